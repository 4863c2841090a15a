package live

import (
	"math"

	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/segmentation"
)

// activityGrid is the aggregated activity of the global speakers over grid
// cells (10 ms each) from base on: weights[c] is the sum of the buffer
// weights of cell c, speakers[g][c] the weighted activity of speaker g.
type activityGrid struct {
	base     int64
	weights  []float32
	speakers [][]float32
}

// end is the first cell not held.
func (a *activityGrid) end() int64 { return a.base + int64(len(a.weights)) }

// grow makes room for n speakers and for the cells before hi.
func (a *activityGrid) grow(n int, hi int64) {
	for len(a.speakers) < n {
		a.speakers = append(a.speakers, make([]float32, len(a.weights)))
	}
	if need := int(hi - a.base); need > len(a.weights) {
		more := need - len(a.weights)
		a.weights = append(a.weights, make([]float32, more)...)
		for g := range a.speakers {
			a.speakers[g] = append(a.speakers[g], make([]float32, more)...)
		}
	}
}

// at returns speaker g's mean activity in cell i (0 where no buffer counted).
func (a *activityGrid) at(g int, i int64) float32 {
	c := i - a.base
	if a.weights[c] > 0 {
		return a.speakers[g][c] / a.weights[c]
	}
	return 0
}

// trim drops the cells before from, once they are at least half of what is
// held.
func (a *activityGrid) trim(from int64) {
	if drop := from - a.base; drop > int64(len(a.weights))/2 && drop > 0 {
		a.weights = append(a.weights[:0], a.weights[drop:]...)
		for g := range a.speakers {
			a.speakers[g] = append(a.speakers[g][:0], a.speakers[g][drop:]...)
		}
		a.base += drop
	}
}

// aggregate adds the buffer's mapped activity to the grid cells it covers
// from cell from on, Hamming-weighted so that a buffer's edges, where the
// model sees little context, count less (diart's aggregation). Inside a
// labelled chunk (chunkSpeaker[k], from chunkLabels) local speaker k counts
// for the chunk's speaker instead of its mapped one.
func (a *activityGrid) aggregate(ch *segmentation.Chunk, mapping []int, chunkSpeaker []map[int64]int, grid chunkGrid, start, end, from int64) {
	n := len(ch.Probs)
	lo := max(max(start, 0)/gridSamples, from)
	hi := end / gridSamples // cells wholly inside the audio
	if end%gridSamples != 0 {
		hi++ // flush: the last partial cell
	}
	a.grow(len(a.speakers), hi)
	for i := lo; i < hi; i++ {
		f := segFrame(i*gridSamples+gridSamples/2, start, n)
		w := float32(0.54 - 0.46*math.Cos(2*math.Pi*float64(f)/float64(n-1)))
		c := i - a.base
		a.weights[c] += w
		x := i*gridSamples + gridSamples/2
		chunk := grid.Last(x)
		for k, g := range mapping {
			if g < 0 {
				continue
			}
			if cg, ok := chunkSpeaker[k][chunk]; ok && grid.Holds(chunk, x) {
				g = cg
			}
			a.speakers[g][c] += w * ch.Probs[f][k]
		}
	}
}

// chunkLabels gives each chunk pooled into a mapped local speaker the
// global speaker whose centroid is nearest to the chunk itself
// (clustering.Nearest); aggregate credits the local speaker's activity
// inside the chunk to that speaker.
//
// Why: segmentation sometimes keeps two voices in one local speaker, and
// the mapping can only give it one global speaker (the offline pipeline's
// chunk labels). Measured on dev at 1 s latency: pooled DER 21.87 → 21.15
// (real 27.22 → 26.03, sim 19.65 → 19.11; docs/STREAMING_BENCH.md).
func chunkLabels(locals []local, mapping []int, chunkVecs map[int64][]float32, centroids [][]float32) []map[int64]int {
	out := make([]map[int64]int, len(mapping))
	for i, l := range locals {
		if mapping[i] < 0 || len(l.uses) == 0 {
			continue
		}
		out[i] = map[int64]int{}
		for _, u := range l.uses {
			if v := chunkVecs[u.Chunk]; v != nil {
				if g := clustering.Nearest(v, centroids); g >= 0 {
					out[i][u.Chunk] = g
				}
			}
		}
	}
	return out
}
