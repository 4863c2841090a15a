// Package annotation is whospoke's one vocabulary for time: segments, speaker
// turns, annotations (a file's turns) and the RTTM/UEM files that store them.
// The CLI, the evaluator, the API and the live path all speak it.
package annotation

import (
	"fmt"
	"math"
	"sort"
)

// Segment is a half-open stretch of time [Start, End) in seconds.
type Segment struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Duration is End-Start, never negative.
func (s Segment) Duration() float64 { return math.Max(0, s.End-s.Start) }

// Empty reports whether the segment covers no time.
func (s Segment) Empty() bool { return s.End <= s.Start }

// Intersect returns the overlap of s and o (empty when they do not overlap).
func (s Segment) Intersect(o Segment) Segment {
	return Segment{Start: math.Max(s.Start, o.Start), End: math.Min(s.End, o.End)}
}

func (s Segment) String() string { return fmt.Sprintf("[%.3f, %.3f)", s.Start, s.End) }

// Turn is a segment spoken by one speaker.
type Turn struct {
	Segment
	Speaker string `json:"speaker"`
}

// Annotation is the set of speaker turns of one recording (its URI is the
// RTTM file id). Turns may overlap in time.
type Annotation struct {
	URI   string
	Turns []Turn
}

// Sort orders turns by start, then end, then speaker: the order every output uses.
func (a *Annotation) Sort() {
	sort.SliceStable(a.Turns, func(i, j int) bool {
		ti, tj := a.Turns[i], a.Turns[j]
		if ti.Start != tj.Start {
			return ti.Start < tj.Start
		}
		if ti.End != tj.End {
			return ti.End < tj.End
		}
		return ti.Speaker < tj.Speaker
	})
}

// Labels lists the speakers in order of first appearance (after sorting by time).
func (a *Annotation) Labels() []string {
	turns := append([]Turn(nil), a.Turns...)
	b := Annotation{Turns: turns}
	b.Sort()
	var labels []string
	seen := map[string]bool{}
	for _, t := range b.Turns {
		if !seen[t.Speaker] {
			seen[t.Speaker] = true
			labels = append(labels, t.Speaker)
		}
	}
	return labels
}

// Millis rounds a time in seconds to the millisecond, the resolution of
// every output (JSON, events, transcripts).
func Millis(x float64) float64 { return math.Round(x*1000) / 1000 }

// SpeakerLabel is the public name of the i-th speaker: SPEAKER_00, SPEAKER_01, …
func SpeakerLabel(i int) string { return fmt.Sprintf("SPEAKER_%02d", i) }

// Relabel renames speakers SPEAKER_00, SPEAKER_01, … in order of first
// appearance and returns the old→new mapping.
func (a *Annotation) Relabel() map[string]string {
	mapping := map[string]string{}
	for i, l := range a.Labels() {
		mapping[l] = SpeakerLabel(i)
	}
	for i := range a.Turns {
		a.Turns[i].Speaker = mapping[a.Turns[i].Speaker]
	}
	a.Sort()
	return mapping
}

// Timeline returns the speech regions of the annotation: the union of all turns.
func (a *Annotation) Timeline() Timeline {
	t := make(Timeline, 0, len(a.Turns))
	for _, turn := range a.Turns {
		t = append(t, turn.Segment)
	}
	return t.Union()
}

// Speech is the total duration of the union of all turns.
func (a *Annotation) Speech() float64 { return a.Timeline().Duration() }

// Timeline is a list of segments.
type Timeline []Segment

// Union merges overlapping or touching segments and drops empty ones; the
// result is sorted.
func (t Timeline) Union() Timeline {
	segs := make(Timeline, 0, len(t))
	for _, s := range t {
		if !s.Empty() {
			segs = append(segs, s)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].Start < segs[j].Start })
	var out Timeline
	for _, s := range segs {
		if n := len(out); n > 0 && s.Start <= out[n-1].End {
			out[n-1].End = math.Max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// Duration is the sum of the segments' durations (call Union first for
// covered time).
func (t Timeline) Duration() float64 {
	var d float64
	for _, s := range t {
		d += s.Duration()
	}
	return d
}

// Minus returns the parts of t not covered by b; both must be unions
// (sorted, disjoint), and so is the result.
func (t Timeline) Minus(b Timeline) Timeline {
	out := Timeline{}
	j := 0
	for _, s := range t {
		start := s.Start
		for j < len(b) && b[j].End <= start {
			j++
		}
		for k := j; k < len(b) && b[k].Start < s.End; k++ {
			if b[k].Start > start {
				out = append(out, Segment{Start: start, End: b[k].Start})
			}
			start = math.Max(start, b[k].End)
		}
		if start < s.End {
			out = append(out, Segment{Start: start, End: s.End})
		}
	}
	return out
}

// Crop keeps the parts of the annotation's turns that fall inside the timeline.
func (a *Annotation) Crop(t Timeline) *Annotation {
	out := &Annotation{URI: a.URI}
	for _, turn := range a.Turns {
		for _, s := range t {
			if x := turn.Intersect(s); !x.Empty() {
				out.Turns = append(out.Turns, Turn{Segment: x, Speaker: turn.Speaker})
			}
		}
	}
	out.Sort()
	return out
}
