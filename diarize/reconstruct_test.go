package diarize

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/whospoke/whospoke/segmentation"
)

// randomOutput is segmentation output with random activity over n samples,
// windows every step samples except for an uncovered gap in the middle,
// each local speaker mapped to one of k global speakers or none.
func randomOutput(n, step int64, k int, rng *rand.Rand) (*segmentation.Output, *speakerMap) {
	seg := &segmentation.Output{NumSamples: n, Step: step}
	for _, s := range segmentation.WindowStarts(n, step) {
		if s < n/3 || s > n/2 {
			seg.Starts = append(seg.Starts, s)
		}
	}
	nw := len(seg.Starts)
	seg.Probs = make([][segmentation.NumFrames][segmentation.LocalSpeakers]float32, nw)
	seg.Active = make([][segmentation.NumFrames][segmentation.LocalSpeakers]bool, nw)
	m := &speakerMap{k: k, window: make([][segmentation.LocalSpeakers]int, nw)}
	for w := range nw {
		perm := rng.Perm(k)
		for j := range segmentation.LocalSpeakers {
			m.window[w][j] = perm[j]
			if rng.IntN(4) == 0 {
				m.window[w][j] = -1
			}
		}
		for f := range segmentation.NumFrames {
			for j := range segmentation.LocalSpeakers {
				p := rng.Float32()
				seg.Probs[w][f][j] = p
				seg.Active[w][f][j] = p > 0.6
			}
		}
	}
	return seg, m
}

func TestReconstructBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seg, m := randomOutput(90*segmentation.SampleRate+123, segmentation.SampleRate, 6, rng)
	whole := reconstructBlocks(seg, m, nil, 1<<20)
	if len(whole.Diarization.Turns) == 0 || len(whole.Exclusive.Turns) == 0 || len(whole.Speakers) == 0 {
		t.Fatal("no speech reconstructed")
	}
	for _, block := range []int{1, 7, segmentation.NumFrames, 1000, reconstructBlock} {
		if got := reconstructBlocks(seg, m, nil, block); !reflect.DeepEqual(got, whole) {
			t.Errorf("block %d: result differs from a single block", block)
		}
	}
}
