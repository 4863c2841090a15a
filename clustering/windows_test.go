package clustering

import (
	"context"
	"errors"
	"testing"
)

// heardAtOnce counts, per level, the separate runs of windows with that many
// clean local speakers, and keeps the highest level with two runs.
func TestHeardAtOnce(t *testing.T) {
	clean := func(w int) Pair { return Pair{Window: w, Clean: true} }
	var pairs []Pair
	for w := range 30 { // one clean speaker throughout: a single run
		pairs = append(pairs, clean(w))
	}
	if got := heardAtOnce(pairs, 30); got != 0 {
		t.Errorf("one speaker in one run: %d, want 0", got)
	}
	for _, w := range []int{3, 4, 5} { // a second one in one stretch
		pairs = append(pairs, clean(w))
	}
	if got := heardAtOnce(pairs, 30); got != 0 {
		t.Errorf("two at once in one stretch: %d, want 0", got)
	}
	pairs = append(pairs, clean(20), Pair{Window: 25}) // and in another; a brief one does not count
	if got := heardAtOnce(pairs, 30); got != 2 {
		t.Errorf("two at once in two stretches: %d, want 2", got)
	}
	pairs = append(pairs, clean(4), clean(20))
	if got := heardAtOnce(pairs, 30); got != 3 {
		t.Errorf("three at once in two stretches: %d, want 3", got)
	}
}

// A cancelled context stops RefineWindows with its error.
func TestRefineWindowsCancelled(t *testing.T) {
	pairs := []Pair{{Window: 0, Vec: []float32{1, 0}, Clean: true}, {Window: 1, Vec: []float32{0, 1}, Clean: true}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RefineWindows(ctx, pairs, [][]float32{}, 2, Config{Threshold: 0.65, MinClusterSize: 2}, [][]float32{{1, 0}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	a, err := RefineWindows(context.Background(), pairs, [][]float32{}, 2, Config{Threshold: 0.65, MinClusterSize: 2}, [][]float32{{1, 0}, {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if a.K != 2 || a.Speaker[0] != 0 || a.Speaker[1] != 1 {
		t.Errorf("got K %d speakers %v, want 2 and [0 1]", a.K, a.Speaker)
	}
}
