package live

import (
	"testing"

	"github.com/whospoke/whospoke/chunkembed"
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
	centroids := [][]float32{axis(0, 5), axis(1, 3)} // sums, not unit
	chunkVecs := map[int64][]float32{0: axis(1, 1), 1: axis(0, 1)}
	// Local 0 (mapped to speaker 0) holds voice 1 in chunk 0 and voice 0
	// in chunk 1; local 1 is not mapped; local 2 has no chunks.
	locals := []local{{index: 0, uses: []chunkembed.Use{{Chunk: 0, Weight: 1}, {Chunk: 1, Weight: 1}}}, {index: 1, uses: []chunkembed.Use{{Chunk: 0, Weight: 1}}}, {index: 2}}
	mapping := []int{0, -1, -1}
	labels := chunkLabels(locals, mapping, chunkVecs, centroids)
	if labels[0][0] != 1 || labels[0][1] != 0 || labels[1] != nil || labels[2] != nil {
		t.Fatalf("labels %v, want chunk 0 → 1 and chunk 1 → 0 for local 0 only", labels)
	}

	// A 4 s buffer in which local 0 speaks throughout.
	const n = 234
	ch := segmentation.Chunk{Probs: make([][segmentation.LocalSpeakers]float32, n)}
	for f := range ch.Probs {
		ch.Probs[f][0] = 1
	}
	grid := chunkGrid{Grid: chunkembed.LiveConfig().Grid()}
	var a activityGrid
	a.grow(2, 0)
	a.aggregate(&ch, mapping, labels, grid, 0, 2*grid.Length, 0)
	for cell := range 2 * grid.Length / gridSamples {
		want := 1 // chunk 0: voice 1
		if cell*gridSamples >= grid.Length {
			want = 0
		}
		if a.speakers[want][cell] <= 0 || a.speakers[1-want][cell] != 0 {
			t.Fatalf("cell %d: activity %v / %v, want it all on speaker %d", cell, a.speakers[0][cell], a.speakers[1][cell], want)
		}
	}
}
