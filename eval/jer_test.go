package eval

import (
	"testing"

	"github.com/whospoke/whospoke/annotation"
)

func mustJER(t *testing.T, ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) JERComponents {
	t.Helper()
	j, err := JER(ref, hyp, uem, opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJER(t *testing.T) {
	for _, c := range []struct {
		name     string
		ref, hyp *annotation.Annotation
		uem      annotation.Timeline
		opt      Options
		want     float64
	}{
		{
			name: "perfect under other labels",
			ref:  ann(turn("A", 0, 4), turn("B", 3, 8)),
			hyp:  ann(turn("y", 0, 4), turn("x", 3, 8)),
			want: 0,
		},
		{
			// A pairs with X (Jaccard 10/15); B is unpaired and costs 1.
			name: "one hypothesis speaker for two",
			ref:  ann(turn("A", 0, 10), turn("B", 10, 20)),
			hyp:  ann(turn("X", 0, 15)),
			want: (1 - 10.0/15 + 1) / 2,
		},
		{
			// Overlap favours A–Y, B–X (6 + 2 s against 6 + 0 s), the summed
			// Jaccard index favours A–X, B–Y (0.5 + 0 against 6/38 + 0.25).
			name: "pairs by Jaccard index, not by overlap",
			ref:  ann(turn("A", 0, 10), turn("B", 10, 12)),
			hyp:  ann(turn("X", 0, 6), turn("X", 10, 12), turn("Y", 4, 10), turn("Y", 12, 40)),
			uem:  annotation.Timeline{{Start: 0, End: 40}},
			want: (0.5 + 1) / 2,
		},
		{
			name: "collar shrinks both speakers",
			ref:  ann(turn("A", 0, 10)),
			hyp:  ann(turn("X", 0, 9)),
			opt:  Options{Collar: 0.5},
			want: 1 - 8.5/9,
		},
		{
			name: "empty hypothesis",
			ref:  ann(turn("A", 0, 4), turn("B", 3, 8)),
			hyp:  ann(),
			want: 1,
		},
		{
			name: "hypothesis without reference speech",
			ref:  ann(),
			hyp:  ann(turn("X", 0, 1)),
			want: 0, // nothing is scored without a reference span
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mustJER(t, c.ref, c.hyp, c.uem, c.opt)
			if !near(got.JER(), c.want) {
				t.Errorf("JER %v (%+v), want %v", got.JER(), got, c.want)
			}
		})
	}
}

func TestJERWithoutReferenceSpeakers(t *testing.T) {
	uem := annotation.Timeline{{Start: 0, End: 10}}
	got := mustJER(t, ann(), ann(turn("X", 0, 1)), uem, Options{})
	if got.RefSpeakers != 0 || got.HypSpeakers != 1 || got.JER() != 1 {
		t.Errorf("got %+v, JER %v; want 1 with one hypothesis speaker", got, got.JER())
	}
	if got := mustJER(t, ann(), ann(), uem, Options{}); got.JER() != 0 {
		t.Errorf("nothing on either side: JER %v, want 0", got.JER())
	}
}

// Pooled JER is the mean over all reference speakers of all files.
func TestJERPoolsBySpeaker(t *testing.T) {
	var pooled JERComponents
	pooled.Add(mustJER(t, ann(turn("A", 0, 2), turn("B", 2, 4)), ann(turn("X", 0, 2), turn("Y", 2, 3)), nil, Options{}))
	pooled.Add(mustJER(t, ann(turn("A", 0, 2)), ann(), nil, Options{}))
	if pooled.RefSpeakers != 3 || !near(pooled.JER(), (0+0.5+1)/3.0) {
		t.Errorf("pooled %+v, JER %v; want 3 speakers and 0.5", pooled, pooled.JER())
	}
}
