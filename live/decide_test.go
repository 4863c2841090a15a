package live

import (
	"context"
	"reflect"
	"testing"

	"github.com/whospoke/whospoke/annotation"
)

// A turn goes on through voiced cells where no speaker reaches the onset
// while its speaker stays the most active; recovery never starts a turn,
// nor keeps one going where another speaker is most active, where the VAD
// hears no speech, where no buffer heard anyone or where the speech gate
// rules the cell out.
func TestDecideRecovers(t *testing.T) {
	type span struct {
		a0, a1 float32 // the speakers' activity
		voiced bool
		silent bool // ruled out by the speech gate
	}
	spans := []span{
		{a0: 0.8, a1: 0.1},                    // 0.0 s: speaker 0 by onset
		{a0: 0.3, a1: 0.2, voiced: true},      // 0.1 s: its turn goes on
		{a0: 0.1, a1: 0.3, voiced: true},      // 0.2 s: speaker 1 most active, not in a turn: ends
		{a0: 0.3, a1: 0.1, voiced: true},      // 0.3 s: speaker 0's turn has ended: no one
		{a0: 0.45, a1: 0.7, voiced: true},     // 0.4 s: speaker 1 by onset, not speaker 0 too
		{a0: 0.1, a1: 0.4, voiced: true},      // 0.5 s: its turn goes on
		{a0: 0.1, a1: 0.4},                    // 0.6 s: not voiced: ends
		{a0: 0.7},                             // 0.7 s: speaker 0 by onset
		{voiced: true},                        // 0.8 s: no one heard: ends
		{a0: 0.7},                             // 0.9 s: speaker 0 by onset
		{a0: 0.3, voiced: true, silent: true}, // 1.0 s: sure silence: ends
	}
	const cells = 10
	a := activityGrid{weights: make([]float32, cells*len(spans)), speakers: make([][]float32, 2)}
	for g := range a.speakers {
		a.speakers[g] = make([]float32, len(a.weights))
	}
	for i, s := range spans {
		for c := i * cells; c < (i+1)*cells; c++ {
			a.weights[c], a.speakers[0][c], a.speakers[1][c] = 1, s.a0, s.a1
		}
	}
	total := int64(len(a.weights)) * gridSamples
	d := decider{onset: 0.5, offset: 0.5,
		speech: func(c int64) bool { return !spans[c/cells].silent },
		voiced: func(c int64) bool { return spans[c/cells].voiced },
	}
	s0, s1 := label(0), label(1)
	want := []Event{
		{Start, s0, 0}, {End, s0, 0.2}, {Start, s1, 0.4}, {End, s1, 0.6},
		{Start, s0, 0.7}, {End, s0, 0.8}, {Start, s0, 0.9}, {End, s0, 1.0},
	}
	if got := d.finish(&a, total, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	// Without recovery the same activity gives the onset's turns only.
	d = decider{onset: 0.5, offset: 0.5, speech: d.speech}
	want = []Event{
		{Start, s0, 0}, {End, s0, 0.1}, {Start, s1, 0.4}, {End, s1, 0.5},
		{Start, s0, 0.7}, {End, s0, 0.8}, {Start, s0, 0.9}, {End, s0, 1.0},
	}
	if got := d.finish(&a, total, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("without recovery, events\n got %v\nwant %v", got, want)
	}
}

// On the sample conversation, recovery only adds: every speaker's turns
// without it lie inside its turns with it, and some time is added.
func TestRecoverSpeechAdds(t *testing.T) {
	samples := loadSamples(t, samplePath())
	turns := func(recover bool) *annotation.Annotation {
		cfg := DefaultConfig()
		cfg.RecoverSpeech = recover
		s := testEngine(t, cfg).NewSession(WithChunkPhase(testPhase))
		events := append(push(t, s, samples, 1600, true), s.Flush(context.Background())...)
		a, err := ToAnnotation("sample", events)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	without, with := turns(false), turns(true)
	var added float64
	for _, l := range with.Labels() {
		w, o := speakerTimeline(with, l), speakerTimeline(without, l)
		if lost := o.Minus(w).Duration(); lost > 1e-9 {
			t.Errorf("speaker %s: %.2f s of its turns lost with recovery", l, lost)
		}
		added += w.Minus(o).Duration()
	}
	t.Logf("recovered %.2f s of speaker time", added)
	if added == 0 {
		t.Error("nothing recovered on the sample")
	}
}

func speakerTimeline(a *annotation.Annotation, label string) annotation.Timeline {
	var tl annotation.Timeline
	for _, tu := range a.Turns {
		if tu.Speaker == label {
			tl = append(tl, tu.Segment)
		}
	}
	return tl.Union()
}
