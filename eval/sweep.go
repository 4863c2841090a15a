package eval

import (
	"cmp"
	"math"
	"slices"

	"github.com/whospoke/whospoke/annotation"
)

// speakers is one side (reference or hypothesis) of a recording with speaker
// labels replaced by dense indices, so the sweep can count with slices.
type speakers struct {
	labels []string // sorted, so results never depend on map order
	turns  []indexedTurn
}

type indexedTurn struct {
	start, end float64
	spk        int
}

func index(a *annotation.Annotation) speakers {
	var s speakers
	if a == nil {
		return s
	}
	ids := map[string]int{}
	for _, t := range a.Turns {
		if _, ok := ids[t.Speaker]; !ok && !t.Empty() {
			ids[t.Speaker] = 0
			s.labels = append(s.labels, t.Speaker)
		}
	}
	slices.Sort(s.labels)
	for i, l := range s.labels {
		ids[l] = i
	}
	for _, t := range a.Turns {
		// md-eval ignores zero-length turns when it builds speaker segments.
		if !t.Empty() {
			s.turns = append(s.turns, indexedTurn{t.Start, t.End, ids[t.Speaker]})
		}
	}
	return s
}

// activeSet tracks which speakers are talking. Counts, not flags, because
// one speaker's turns may overlap or touch; the speaker is active while any
// of its turns is.
type activeSet struct {
	count []int
	pos   []int
	list  []int // the active speakers, in no particular order
}

func newActiveSet(n int) *activeSet {
	return &activeSet{count: make([]int, n), pos: make([]int, n)}
}

func (a *activeSet) has(s int) bool { return s >= 0 && a.count[s] > 0 }

func (a *activeSet) change(s, delta int) {
	before := a.count[s]
	a.count[s] += delta
	switch {
	case before == 0 && a.count[s] > 0:
		a.pos[s] = len(a.list)
		a.list = append(a.list, s)
	case before > 0 && a.count[s] == 0:
		last := a.list[len(a.list)-1]
		a.list[a.pos[s]] = last
		a.pos[last] = a.pos[s]
		a.list = a.list[:len(a.list)-1]
	}
}

type side int8

const (
	regionSide side = iota
	refSide
	hypSide
)

type event struct {
	t     float64
	side  side
	spk   int
	delta int
}

// sweep calls fn for every maximal stretch of region during which the sets
// of active reference and hypothesis speakers do not change and at least one
// speaker is active. It walks sorted boundaries, so its cost depends on the
// number of turns, not on the length of the audio. region must be a union
// (sorted, disjoint).
func sweep(region annotation.Timeline, ref, hyp speakers, fn func(seg annotation.Segment, ref, hyp *activeSet)) {
	events := make([]event, 0, 2*(len(region)+len(ref.turns)+len(hyp.turns)))
	for _, s := range region {
		events = append(events, event{s.Start, regionSide, 0, 1}, event{s.End, regionSide, 0, -1})
	}
	for _, t := range ref.turns {
		events = append(events, event{t.start, refSide, t.spk, 1}, event{t.end, refSide, t.spk, -1})
	}
	for _, t := range hyp.turns {
		events = append(events, event{t.start, hypSide, t.spk, 1}, event{t.end, hypSide, t.spk, -1})
	}
	slices.SortFunc(events, func(a, b event) int { return cmp.Compare(a.t, b.t) })

	refActive, hypActive := newActiveSet(len(ref.labels)), newActiveSet(len(hyp.labels))
	inRegion := 0
	prev := math.Inf(-1)
	for i := 0; i < len(events); {
		t := events[i].t
		// All events at one instant are applied together, so their order
		// never produces a zero-length stretch with a wrong speaker set.
		if inRegion > 0 && t > prev && len(refActive.list)+len(hypActive.list) > 0 {
			fn(annotation.Segment{Start: prev, End: t}, refActive, hypActive)
		}
		for ; i < len(events) && events[i].t == t; i++ {
			switch e := events[i]; e.side {
			case regionSide:
				inRegion += e.delta
			case refSide:
				refActive.change(e.spk, e.delta)
			case hypSide:
				hypActive.change(e.spk, e.delta)
			}
		}
		prev = t
	}
}

// recording is one file prepared for scoring.
type recording struct {
	ref, hyp speakers
	// evaluated is the UEM: md-eval learns the speaker mapping here, before
	// collars and overlap are removed.
	evaluated annotation.Timeline
	// scored is evaluated minus the no-score zones; errors are counted here.
	scored annotation.Timeline
}

func prepare(ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) *recording {
	r := &recording{ref: index(ref), hyp: index(hyp)}
	if uem == nil {
		r.evaluated = referenceSpan(ref)
	} else {
		r.evaluated = uem.Union()
	}
	var noScore annotation.Timeline
	if opt.Collar > 0 && ref != nil {
		// Every reference boundary gets a collar, zero-length turns and
		// boundaries between touching turns of one speaker included, as in
		// md-eval's add_collars_to_uem.
		for _, t := range ref.Turns {
			for _, b := range []float64{t.Start, t.End} {
				noScore = append(noScore, annotation.Segment{Start: b - opt.Collar, End: b + opt.Collar})
			}
		}
	}
	if opt.SkipOverlap {
		noScore = append(noScore, overlap(r.ref)...)
	}
	r.scored = r.evaluated.Minus(noScore.Union())
	return r
}

// referenceSpan is md-eval's scoring region when no UEM is given: from the
// earliest reference start to the latest reference end. The hypothesis is
// not consulted, so system speech outside it is never a false alarm.
func referenceSpan(ref *annotation.Annotation) annotation.Timeline {
	if ref == nil || len(ref.Turns) == 0 {
		return annotation.Timeline{}
	}
	span := annotation.Segment{Start: math.Inf(1), End: math.Inf(-1)}
	for _, t := range ref.Turns {
		span.Start = math.Min(span.Start, t.Start)
		span.End = math.Max(span.End, t.End)
	}
	return annotation.Timeline{span}.Union()
}

// overlap returns where two or more reference speakers talk at once.
func overlap(ref speakers) annotation.Timeline {
	if len(ref.turns) == 0 {
		return nil
	}
	all := annotation.Timeline{{Start: math.Inf(-1), End: math.Inf(1)}}
	var out annotation.Timeline
	sweep(all, ref, speakers{}, func(seg annotation.Segment, r, _ *activeSet) {
		if len(r.list) >= 2 {
			out = append(out, seg)
		}
	})
	return out.Union()
}
