package stream

import (
	"testing"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/segmentation"
)

// A mapped local speaker's chunks are labelled by their nearest centroid,
// and aggregate credits its activity inside each chunk to that chunk's
// speaker, not to the speaker the local was mapped to.
func TestChunkLabels(t *testing.T) {
	axis := func(a int, scale float32) []float32 {
		v := make([]float32, embedding.Dim)
		v[a] = scale
		return v
	}
	s := &Session{
		d:         &decider{},
		clust:     clusterer{centroids: [][]float32{axis(0, 5), axis(1, 3)}}, // sums, not unit
		chunkVecs: map[int64][]float32{0: axis(1, 1), 1: axis(0, 1)},
		acc:       make([][]float32, 2),
	}
	// Local 0 (mapped to speaker 0) holds voice 1 in chunk 0 and voice 0
	// in chunk 1; local 1 is not mapped; local 2 has no chunks.
	locals := []local{{k: 0, uses: []chunkUse{{0, 1}, {1, 1}}}, {k: 1, uses: []chunkUse{{0, 1}}}, {k: 2}}
	mapping := []int{0, -1, -1}
	labels := s.chunkLabels(locals, mapping)
	if labels[0][0] != 1 || labels[0][1] != 0 || labels[1] != nil || labels[2] != nil {
		t.Fatalf("labels %v, want chunk 0 → 1 and chunk 1 → 0 for local 0 only", labels)
	}

	// A 4 s buffer in which local 0 speaks throughout.
	const n = 234
	ch := segmentation.Chunk{Probs: make([][segmentation.LocalSpeakers]float32, n)}
	for f := range ch.Probs {
		ch.Probs[f][0] = 1
	}
	s.aggregate(&ch, mapping, labels, 0, 2*chunkLen)
	for cell := range 2 * chunkLen / gridSamples {
		want := 1 // chunk 0: voice 1
		if cell*gridSamples >= chunkLen {
			want = 0
		}
		if s.acc[want][cell] <= 0 || s.acc[1-want][cell] != 0 {
			t.Fatalf("cell %d: activity %v / %v, want it all on speaker %d", cell, s.acc[0][cell], s.acc[1][cell], want)
		}
	}
}
