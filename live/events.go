package live

import (
	"fmt"
	"math"
	"slices"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/assignment"
)

// EventType says whether a speaker started or stopped.
type EventType int

// The event types, as the Live API names them.
const (
	Start EventType = iota + 1
	End
)

func (t EventType) String() string {
	switch t {
	case Start:
		return api.EventSpeakerStart
	case End:
		return api.EventSpeakerEnd
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one speaker starting or stopping at Time seconds of audio from
// the stream start. Speakers are labelled SPEAKER_00, SPEAKER_01, … in order
// of first speech, stable for the session.
type Event struct {
	Type    EventType
	Speaker string
	Time    float64
}

func label(i int) string { return annotation.SpeakerLabel(i) }

// CheckEvents verifies the invariants of a finished stream's events for
// duration seconds of audio: times within the audio and non-decreasing per
// speaker, no end without a start, no second start of an active speaker,
// and (complete) every start closed by exactly one end.
func CheckEvents(events []Event, duration float64, complete bool) error {
	on := map[string]bool{}
	last := map[string]float64{}
	for i, e := range events {
		if math.IsNaN(e.Time) || e.Time < 0 || e.Time > duration+1e-9 {
			return fmt.Errorf("event %d %+v: time outside the audio (0..%.3f)", i, e, duration)
		}
		if t, ok := last[e.Speaker]; ok && e.Time < t {
			return fmt.Errorf("event %d %+v: time goes back (was %.3f)", i, e, t)
		}
		last[e.Speaker] = e.Time
		switch e.Type {
		case Start:
			if on[e.Speaker] {
				return fmt.Errorf("event %d %+v: speaker already active", i, e)
			}
			on[e.Speaker] = true
		case End:
			if !on[e.Speaker] {
				return fmt.Errorf("event %d %+v: end without a start", i, e)
			}
			on[e.Speaker] = false
		default:
			return fmt.Errorf("event %d: bad type %d", i, e.Type)
		}
	}
	if complete {
		for spk, o := range on {
			if o {
				return fmt.Errorf("speaker %s never ended", spk)
			}
		}
	}
	return nil
}

// ToAnnotation turns a complete event list into turns (for scoring and
// RTTM). Zero-length turns are dropped.
func ToAnnotation(uri string, events []Event) (*annotation.Annotation, error) {
	if err := CheckEvents(events, math.Inf(1), true); err != nil {
		return nil, err
	}
	a := &annotation.Annotation{URI: uri}
	open := map[string]float64{}
	for _, e := range events {
		if e.Type == Start {
			open[e.Speaker] = e.Time
			continue
		}
		if s := open[e.Speaker]; e.Time > s {
			a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: s, End: e.Time}, Speaker: e.Speaker})
		}
		delete(open, e.Speaker)
	}
	a.Sort()
	return a, nil
}

// MatchLabels maps the speakers of other (say, an offline re-diarization of
// the session) onto the labels of live, pairing them one to one so that the
// time they share is greatest; a speaker of other with no partner gets a
// fresh label after live's. Clients of a live stream thus keep their labels
// when they receive a revision.
func MatchLabels(live, other *annotation.Annotation) map[string]string {
	ls, os := live.Labels(), other.Labels()
	out := make(map[string]string, len(os))
	if len(os) == 0 {
		return out
	}
	shared := make([][]float64, len(os))
	for i, o := range os {
		shared[i] = make([]float64, len(ls))
		for _, ot := range other.Turns {
			if ot.Speaker != o {
				continue
			}
			for j, l := range ls {
				for _, lt := range live.Turns {
					if lt.Speaker == l {
						shared[i][j] += max(0, min(ot.End, lt.End)-max(ot.Start, lt.Start))
					}
				}
			}
		}
	}
	cost := make([][]float64, len(os))
	for i := range shared {
		cost[i] = make([]float64, len(ls))
		for j, v := range shared[i] {
			cost[i][j] = -v
		}
	}
	used := map[string]bool{}
	if len(ls) > 0 {
		for i, j := range assignment.Minimize(cost) {
			if j >= 0 && shared[i][j] > 0 {
				out[os[i]] = ls[j]
				used[ls[j]] = true
			}
		}
	}
	next := 0
	for _, o := range os {
		if _, ok := out[o]; ok {
			continue
		}
		for used[label(next)] || slices.Contains(ls, label(next)) {
			next++
		}
		out[o] = label(next)
		used[label(next)] = true
	}
	return out
}
