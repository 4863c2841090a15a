package eval

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/whospoke/whospoke/annotation"
)

func turn(speaker string, start, end float64) annotation.Turn {
	return annotation.Turn{Segment: annotation.Segment{Start: start, End: end}, Speaker: speaker}
}

func ann(turns ...annotation.Turn) *annotation.Annotation {
	return &annotation.Annotation{URI: "f", Turns: turns}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func sameComponents(a, b Components) bool {
	return near(a.Scored, b.Scored) && near(a.Missed, b.Missed) &&
		near(a.FalseAlarm, b.FalseAlarm) && near(a.Confusion, b.Confusion)
}

func mustDER(t *testing.T, ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) Components {
	t.Helper()
	c, err := DER(ref, hyp, uem, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Expected values of these hand-made cases were confirmed with md-eval.pl.
func TestDERHandMade(t *testing.T) {
	for _, c := range []struct {
		name     string
		ref, hyp *annotation.Annotation
		uem      annotation.Timeline
		opt      Options
		want     Components
	}{
		{
			name: "perfect under other labels",
			ref:  ann(turn("A", 0, 4), turn("B", 3, 8), turn("A", 9, 12)),
			hyp:  ann(turn("spk1", 0, 4), turn("spk0", 3, 8), turn("spk1", 9, 12)),
			want: Components{Scored: 12},
		},
		{
			name: "missed tail, no collar",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 9)),
			want: Components{Scored: 10, Missed: 1},
		},
		{
			name: "collar forgives half of the tail",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 9)),
			opt:  Options{Collar: 0.5},
			want: Components{Scored: 9, Missed: 0.5},
		},
		{
			name: "collar at the boundary between touching turns of one speaker",
			ref:  ann(turn("A", 0, 5), turn("A", 5, 10)),
			hyp:  ann(turn("X", 0, 10)),
			opt:  Options{Collar: 0.25},
			want: Components{Scored: 9},
		},
		{
			name: "overlap scored: one hypothesis speaker for two",
			ref:  ann(turn("A", 0, 7), turn("B", 4, 10)),
			hyp:  ann(turn("X", 0, 10)),
			want: Components{Scored: 13, Missed: 3, Confusion: 3},
		},
		{
			name: "overlap excluded",
			ref:  ann(turn("A", 0, 7), turn("B", 4, 10)),
			hyp:  ann(turn("X", 0, 10)),
			opt:  Options{SkipOverlap: true},
			want: Components{Scored: 7, Confusion: 3},
		},
		{
			// X overlaps A most over the whole file (11 s) but B most over
			// the non-overlapped part: md-eval maps before excluding.
			name: "mapping learned before overlap is excluded",
			ref:  ann(turn("A", 0, 11), turn("C", 0, 10), turn("B", 11, 13)),
			hyp:  ann(turn("X", 0, 13)),
			opt:  Options{SkipOverlap: true},
			want: Components{Scored: 3, Confusion: 2},
		},
		{
			name: "no UEM: hypothesis outside the reference span is not scored",
			ref:  ann(turn("A", 2, 5)),
			hyp:  ann(turn("X", 0, 5)),
			want: Components{Scored: 3},
		},
		{
			name: "UEM: the same speech is a false alarm",
			ref:  ann(turn("A", 2, 5)),
			hyp:  ann(turn("X", 0, 5)),
			uem:  annotation.Timeline{{Start: 0, End: 10}},
			want: Components{Scored: 3, FalseAlarm: 2},
		},
		{
			name: "UEM crops the reference too",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 4)),
			uem:  annotation.Timeline{{Start: 2, End: 6}},
			want: Components{Scored: 4, Missed: 2},
		},
		{
			name: "overlapping turns of one hypothesis speaker count once",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 6), turn("X", 4, 10)),
			want: Components{Scored: 10},
		},
		{
			name: "two hypothesis speakers for one",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 10), turn("Y", 6, 8)),
			want: Components{Scored: 10, FalseAlarm: 2},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mustDER(t, c.ref, c.hyp, c.uem, c.opt)
			if !sameComponents(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestDEREmptyHypothesisIsAllMissed(t *testing.T) {
	ref := ann(turn("A", 0, 3), turn("B", 2, 6), turn("A", 7, 9))
	for _, hyp := range []*annotation.Annotation{nil, ann()} {
		got := mustDER(t, ref, hyp, nil, Options{})
		if !sameComponents(got, Components{Scored: 9, Missed: 9}) || got.DER() != 1 {
			t.Errorf("hyp %v: got %+v, DER %v; want everything missed", hyp, got, got.DER())
		}
	}
}

func TestDERNothingScored(t *testing.T) {
	if got := mustDER(t, ann(), ann(), nil, Options{}); got != (Components{}) || got.DER() != 0 {
		t.Errorf("empty files: got %+v, DER %v", got, got.DER())
	}
	fa := Components{FalseAlarm: 2}
	if fa.DER() != 1 {
		t.Errorf("false alarm with nothing scored: DER %v, want 1", fa.DER())
	}
}

// randomAnnotation draws turns for n speakers with pauses and overlap.
func randomAnnotation(rng *rand.Rand, n int, length float64) *annotation.Annotation {
	a := ann()
	for s := range n {
		for t := rng.Float64() * 5; t < length; {
			d := 0.3 + rng.Float64()*6
			a.Turns = append(a.Turns, turn("S"+strconv.Itoa(s), t, math.Min(t+d, length)))
			t += d + rng.Float64()*float64(3*n)
		}
	}
	return a
}

func relabel(a *annotation.Annotation, name func(string) string) *annotation.Annotation {
	b := ann()
	for _, t := range a.Turns {
		b.Turns = append(b.Turns, turn(name(t.Speaker), t.Start, t.End))
	}
	return b
}

func TestDERInvariantToLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		ref := randomAnnotation(rng, 2+i%4, 120)
		hyp := randomAnnotation(rng, 1+i%5, 120)
		opt := Options{Collar: float64(i%3) * 0.25, SkipOverlap: i%2 == 1}
		want := mustDER(t, ref, hyp, nil, opt)
		if want.Confusion == 0 {
			t.Fatalf("case %d: random hypothesis without confusion; the test would prove nothing", i)
		}
		perm := rng.Perm(10)
		hypRenamed := relabel(hyp, func(s string) string { return "h" + strconv.Itoa(perm[s[1]-'0']) })
		refRenamed := relabel(ref, func(s string) string { return "ref_" + s })
		if got := mustDER(t, refRenamed, hypRenamed, nil, opt); !sameComponents(got, want) {
			t.Errorf("case %d: relabelled %+v, original %+v", i, got, want)
		}
	}
}

func TestDERRejectsBadInput(t *testing.T) {
	ref := ann(turn("A", 0, 1))
	for _, c := range []struct {
		name     string
		ref, hyp *annotation.Annotation
		uem      annotation.Timeline
		opt      Options
	}{
		{"negative collar", ref, ref, nil, Options{Collar: -0.1}},
		{"NaN collar", ref, ref, nil, Options{Collar: math.NaN()}},
		{"NaN turn", ref, ann(turn("X", math.NaN(), 1)), nil, Options{}},
		{"infinite turn", ann(turn("A", 0, math.Inf(1))), ref, nil, Options{}},
		{"infinite UEM", ref, ref, annotation.Timeline{{Start: 0, End: math.Inf(1)}}, Options{}},
	} {
		if _, err := DER(c.ref, c.hyp, c.uem, c.opt); err == nil {
			t.Errorf("%s: DER accepted it", c.name)
		}
		if _, err := JER(c.ref, c.hyp, c.uem, c.opt); err == nil {
			t.Errorf("%s: JER accepted it", c.name)
		}
	}
}

// BenchmarkDERFourHours scores four hours of four-speaker conversation.
func BenchmarkDERFourHours(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	ref := randomAnnotation(rng, 4, 4*3600)
	hyp := randomAnnotation(rng, 5, 4*3600)
	for b.Loop() {
		if _, err := DER(ref, hyp, nil, Options{Collar: 0.25}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ref.Turns)+len(hyp.Turns)), "turns")
}
