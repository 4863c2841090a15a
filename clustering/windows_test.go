package clustering

import (
	"context"
	"errors"
	"testing"

	"github.com/whospoke/whospoke/embedding"
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

// TestRefineWindowsDropsSmallSpeakers: a start centroid that wins only one
// chunk (a speaker the online clustering founded on one chunk of a known
// voice) is no speaker after the revision; its chunk goes to the nearest
// voice that keeps its own chunks.
func TestRefineWindowsDropsSmallSpeakers(t *testing.T) {
	unit := func(xs ...float32) []float32 {
		v := make([]float32, embedding.Dim)
		copy(v, xs)
		embedding.Normalize(v)
		return v
	}
	var chunks [][]float32
	var pairs []Pair
	add := func(v []float32) {
		pairs = append(pairs, Pair{Window: len(chunks), Vec: v, Clean: true})
		chunks = append(chunks, v)
	}
	for i := range 6 {
		e := float32(i) / 50 // voices vary a little from chunk to chunk
		add(unit(1, e, 0, e))
		add(unit(e, 1, 0, 0, e))
	}
	add(unit(0, 0.6, 0.8)) // nearer the third start centroid than to either voice
	lone := len(chunks) - 1
	start := [][]float32{unit(1), unit(0, 1), unit(0, 0, 1)}
	cfg := Config{Threshold: 0.65, MinClusterSize: 2}
	a, err := RefineWindows(context.Background(), pairs, chunks, len(chunks), cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	if a.K != 2 {
		t.Fatalf("K = %d, want 2: the one-chunk speaker kept", a.K)
	}
	if a.ChunkSpeaker[lone] != a.ChunkSpeaker[1] {
		t.Errorf("lone chunk labelled %d, want the second voice's %d", a.ChunkSpeaker[lone], a.ChunkSpeaker[1])
	}
	if a.ChunkSpeaker[0] == a.ChunkSpeaker[1] {
		t.Errorf("both voices labelled %d", a.ChunkSpeaker[0])
	}

	cfg.MinClusterSize = 1 // every chunk may be a speaker: all three stay
	if a, err = RefineWindows(context.Background(), pairs, chunks, len(chunks), cfg, start); err != nil {
		t.Fatal(err)
	}
	if a.K != 3 || a.ChunkSpeaker[lone] != 2 {
		t.Errorf("MinClusterSize 1: K %d, lone chunk's speaker %d; want 3 and 2", a.K, a.ChunkSpeaker[lone])
	}
}
