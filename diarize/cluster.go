package diarize

import (
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/assignment"
	"github.com/whospoke/whospoke/segmentation"
)

// speakerMap maps each window's local speakers to global speakers.
type speakerMap struct {
	k      int                               // number of global speakers
	window [][segmentation.LocalSpeakers]int // -1: not assigned
}

// maxRefine bounds the refinement rounds; on dev it settles within 5.
const maxRefine = 20

// clusterPairs clusters the clean pair embeddings, then assigns every
// embedded pair window by window with the Hungarian algorithm, so two local
// speakers of one window never become the same global speaker.
//
// The assignment is then refined, a constrained k-means started from the
// clustering: each centroid becomes the mean of every embedded pair assigned
// to it and the pairs are assigned again, until no assignment changes. The
// clustering saw only the clean pairs, and centroid linkage leaves centroids
// shaped by the merge order; refining them with all the speech they won
// measured real 22.05 → 21.01 and sim 19.54 → 18.19 DER on dev (one round:
// 21.86 / 18.29). With dozens of speakers it can hurt: an 18 min
// concatenation of dev with 45 speakers lost 1 point (BENCHMARKS.md).
func clusterPairs(pairs []pair, numWindows int, cfg clustering.Config) (*speakerMap, error) {
	m := &speakerMap{window: make([][segmentation.LocalSpeakers]int, numWindows)}
	for w := range m.window {
		m.window[w] = [segmentation.LocalSpeakers]int{-1, -1, -1}
	}
	var vecs []float32
	for _, p := range pairs {
		if p.clean {
			vecs = append(vecs, p.vec...)
		}
	}
	if len(vecs) == 0 { // only brief speakers: let them shape the clusters
		for _, p := range pairs {
			vecs = append(vecs, p.vec...)
		}
	}
	if len(vecs) == 0 {
		return m, nil // no speech
	}
	_, centroids, err := clustering.Cluster(vecs, embedding.Dim, cfg)
	if err != nil {
		return nil, err
	}
	m.k = len(centroids)
	m.assign(pairs, centroids)
	for range maxRefine {
		if !m.assign(pairs, m.centroids(pairs, centroids)) {
			break
		}
	}
	return m, nil
}

// centroids returns the unit mean of the embedded pairs assigned to each
// speaker; a speaker no pair went to keeps its old centroid.
func (m *speakerMap) centroids(pairs []pair, old [][]float32) [][]float32 {
	sums := make([][]float32, m.k)
	for c := range sums {
		sums[c] = make([]float32, embedding.Dim)
	}
	used := make([]bool, m.k)
	for _, p := range pairs {
		if c := m.window[p.w][p.k]; c >= 0 && p.vec != nil {
			used[c] = true
			for j, x := range p.vec {
				sums[c][j] += x
			}
		}
	}
	for c := range sums {
		if !used[c] {
			sums[c] = old[c]
			continue
		}
		embedding.Normalize(sums[c])
	}
	return sums
}

// assign gives every embedded pair the centroid that the Hungarian
// algorithm picks for it in its window; it reports whether any assignment
// changed.
func (m *speakerMap) assign(pairs []pair, centroids [][]float32) bool {
	changed := false
	for i := 0; i < len(pairs); {
		j := i
		for j < len(pairs) && pairs[j].w == pairs[i].w {
			j++
		}
		var locals []pair
		for _, p := range pairs[i:j] {
			if p.vec != nil {
				locals = append(locals, p)
			}
		}
		if len(locals) > 0 {
			cost := make([][]float64, len(locals))
			for r, p := range locals {
				cost[r] = make([]float64, m.k)
				for c, cent := range centroids {
					cost[r][c] = 1 - embedding.Cosine(p.vec, cent)
				}
			}
			for r, c := range assignment.Minimize(cost) {
				if m.window[locals[r].w][locals[r].k] != c {
					m.window[locals[r].w][locals[r].k] = c
					changed = true
				}
			}
		}
		i = j
	}
	return changed
}
