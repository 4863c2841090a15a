package clustering

import (
	"context"
	"errors"
	"testing"
)

// A cancelled context stops RefineWindows with its error.
func TestRefineWindowsCancelled(t *testing.T) {
	pairs := []Pair{{Window: 0, Vec: []float32{1, 0}, Clean: true}, {Window: 1, Vec: []float32{0, 1}, Clean: true}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RefineWindows(ctx, pairs, [][]float32{}, Config{Threshold: 0.65, MinClusterSize: 2}, [][]float32{{1, 0}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	a, err := RefineWindows(context.Background(), pairs, [][]float32{}, Config{Threshold: 0.65, MinClusterSize: 2}, [][]float32{{1, 0}, {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if a.K != 2 || a.Speaker[0] != 0 || a.Speaker[1] != 1 {
		t.Errorf("got K %d speakers %v, want 2 and [0 1]", a.K, a.Speaker)
	}
}
