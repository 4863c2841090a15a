package diarize

import (
	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/segmentation"
)

// speakerMap maps each window's local speakers to global speakers.
type speakerMap struct {
	k      int                               // number of global speakers
	window [][segmentation.LocalSpeakers]int // -1: not assigned
	// chunkSpeaker is each embedded chunk's speaker (clustering's chunk
	// labels); a local speaker takes it within the span of its pair's chunks.
	chunkSpeaker []int
	uses         [][segmentation.LocalSpeakers][]chunkembed.Use // each pair's chunks; nil without chunks
	chunks       *chunkSet
}

// clusterPairs assigns the pairs to global speakers with the window
// clustering the live session's revisions share (clustering.ClusterWindows:
// AHC of the clean pairs, refinement, chunk labels, the split of mixed
// speakers and the count), and records the outcome per window and local
// speaker. chunks nil: no chunks to split or label.
func clusterPairs(pairs []pair, chunks *chunkSet, numWindows int, cfg clustering.Config) (*speakerMap, error) {
	m := &speakerMap{window: make([][segmentation.LocalSpeakers]int, numWindows), chunks: chunks}
	for w := range m.window {
		m.window[w] = [segmentation.LocalSpeakers]int{-1, -1, -1}
	}
	cps := make([]clustering.Pair, len(pairs))
	for i, p := range pairs {
		cps[i] = clustering.Pair{Window: p.w, Vec: p.vec, Clean: p.clean}
	}
	var vecs [][]float32
	if chunks != nil {
		vecs = chunks.vecs
		if vecs == nil {
			vecs = [][]float32{}
		}
	}
	a, err := clustering.ClusterWindows(cps, vecs, cfg)
	if err != nil {
		return nil, err
	}
	m.k, m.chunkSpeaker = a.K, a.ChunkSpeaker
	for i, p := range pairs {
		m.window[p.w][p.k] = a.Speaker[i]
	}
	if a.ChunkSpeaker != nil { // chunks, and speech to label them
		m.uses = make([][segmentation.LocalSpeakers][]chunkembed.Use, numWindows)
		for _, p := range pairs {
			m.uses[p.w][p.k] = p.uses
		}
	}
	return m, nil
}

// speakerAt returns the global speaker of local speaker k of window w at
// sample t: the speaker of the pair's chunk whose centre is nearest to t
// among those that hold t, else the pair's.
func (m *speakerMap) speakerAt(w, k int, t int64) int {
	c := m.window[w][k]
	if m.uses == nil || c < 0 {
		return c
	}
	g := m.chunks.grid
	nearest := int64(-1)
	for _, u := range m.uses[w][k] {
		if !g.Holds(u.Chunk, t) {
			continue
		}
		d := t - g.Start(u.Chunk) - g.Length/2
		if d < 0 {
			d = -d
		}
		if nearest < 0 || d < nearest {
			nearest, c = d, m.chunkSpeaker[u.Chunk]
		}
	}
	return c
}
