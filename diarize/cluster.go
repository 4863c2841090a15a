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

// clusterPairs clusters the clean pair embeddings, then assigns every
// embedded pair window by window with the Hungarian algorithm, so two local
// speakers of one window never become the same global speaker.
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
				m.window[locals[r].w][locals[r].k] = c
			}
		}
		i = j
	}
	return m, nil
}
