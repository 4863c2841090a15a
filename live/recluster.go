package live

import (
	"context"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/assignment"
)

var cleanSums = false

// recluster re-estimates the online centroids with the offline window
// clustering (clustering.RefineWindows) over every buffer heard so far,
// started from the online centroids; each refined speaker replaces the
// centroid of the online speaker it shares the most local speakers with,
// and a speaker the refinement split off is founded.
func (s *Session) recluster(ctx context.Context) (*clustering.Assignment, []int) {
	h := s.history
	if len(s.speakers.Centroids) == 0 || len(h.buffers) == 0 || h.chunks == nil {
		return nil, nil
	}
	var pairs []clustering.Pair
	var online []int
	for w, b := range h.buffers {
		for _, l := range b.locals {
			vec := l.vec
			if vec == nil {
				vec = chunkembed.Pool(l.uses, func(c int64) []float32 { return h.chunks[c] })
			}
			pairs = append(pairs, clustering.Pair{Window: w, Vec: vec, Clean: len(l.uses) > 0})
			online = append(online, l.speaker)
		}
	}
	cfg := diarize.DefaultConfig("").Clustering
	cfg.MaxSpeakers = s.cfg.MaxSpeakers
	start := make([][]float32, len(s.speakers.Centroids))
	for g, c := range s.speakers.Centroids {
		start[g] = append([]float32(nil), c...)
		embedding.Normalize(start[g])
	}
	a, err := clustering.RefineWindows(ctx, pairs, h.chunks, len(h.buffers), cfg, start)
	if err != nil || a.K == 0 {
		return nil, nil
	}
	G := len(start)
	cost := make([][]float64, a.K)
	sums := make([][]float32, a.K)
	for j := range cost {
		cost[j] = make([]float64, G)
		sums[j] = make([]float32, embedding.Dim)
	}
	for i, p := range pairs {
		j := a.Speaker[i]
		if j < 0 {
			continue
		}
		if g := online[i]; g >= 0 {
			cost[j][g]--
		}
		if cleanSums && !p.Clean {
			continue
		}
		for d, x := range p.Vec {
			sums[j][d] += x
		}
	}
	toGlobal := make([]int, a.K)
	for j, g := range assignment.Minimize(cost) {
		toGlobal[j] = -1
		switch {
		case g >= 0 && cost[j][g] < 0:
			s.speakers.Centroids[g] = sums[j]
			toGlobal[j] = g
		case len(s.speakers.Centroids) < s.cfg.MaxSpeakers:
			toGlobal[j] = len(s.speakers.Centroids)
			s.speakers.Centroids = append(s.speakers.Centroids, sums[j])
		}
	}
	return a, toGlobal
}

// refinedLabels reclusters with the current buffer (the history's last)
// and returns its locals' speakers and chunk labels from the refinement.
func (s *Session) refinedLabels(ctx context.Context, locals []local, mapping []int) ([]int, []map[int64]int) {
	a, toGlobal := s.recluster(ctx)
	if a == nil {
		return mapping, chunkLabels(locals, mapping, s.chunkVecs, s.speakers.Centroids)
	}
	h := s.history
	last := &h.buffers[len(h.buffers)-1]
	first := len(a.Speaker) - len(last.locals)
	out := make([]int, len(mapping))
	labels := make([]map[int64]int, len(mapping))
	for i := range out {
		out[i] = -1
	}
	p := first
	for i, l := range locals {
		if !l.active || l.vec == nil {
			continue
		}
		if j := a.Speaker[p]; j >= 0 {
			out[i] = toGlobal[j]
		}
		last.locals[p-first].speaker = out[i]
		p++
		if out[i] < 0 {
			continue
		}
		labels[i] = map[int64]int{}
		for _, u := range l.uses {
			if c := a.ChunkSpeaker[u.Chunk]; c >= 0 && toGlobal[c] >= 0 {
				labels[i][u.Chunk] = toGlobal[c]
			}
		}
	}
	return out, labels
}
