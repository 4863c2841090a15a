package stream

import (
	"math"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/assignment"
)

// clusterer is the online speaker clustering: one centroid per global
// speaker, kept as the sum of the unit embeddings assigned to it (cosine
// ignores the scale, and a sum moves ever more slowly, which keeps labels
// stable).
type clusterer struct {
	cfg       Config
	centroids [][]float32
}

func (c *clusterer) len() int { return len(c.centroids) }

func cosineDistance(a, b []float32) float64 { return 1 - embedding.Cosine(a, b) }

// assign maps the buffer's local speakers to global ones (-1: none), at most
// one local speaker per global one (diart's OnlineSpeakerClustering):
//  1. Hungarian assignment of embedded active locals to centroids by cosine
//     distance; a match farther than DeltaNew is rejected;
//  2. a rejected local speaker that is long (mean activity ≥ RhoUpdate)
//     founds a new speaker while there is room, else it takes the nearest
//     centroid still free in this buffer;
//  3. long, solo-embedded locals matched in 1 pull their centroid.
func (c *clusterer) assign(locals []local) []int {
	mapping := make([]int, len(locals))
	for i := range mapping {
		mapping[i] = -1
	}
	var rows []int // indexes into locals of clusterable speakers
	for i, l := range locals {
		if l.active && l.vec != nil {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return mapping
	}
	dist := make([][]float64, len(rows))
	for r, i := range rows {
		dist[r] = make([]float64, len(c.centroids))
		for g, cen := range c.centroids {
			dist[r][g] = cosineDistance(locals[i].vec, cen)
		}
	}
	used := make([]bool, len(c.centroids))
	var missed []int // rows
	if len(c.centroids) > 0 {
		match := assignment.Minimize(dist)
		for r, g := range match {
			if g >= 0 && dist[r][g] <= c.cfg.DeltaNew {
				mapping[rows[r]] = g
				used[g] = true
				continue
			}
			missed = append(missed, r)
		}
	} else {
		for r := range rows {
			missed = append(missed, r)
		}
	}
	// Matched long speakers update their centroids (before new ones are
	// added, so a founder is not counted twice).
	for _, i := range rows {
		l := locals[i]
		if g := mapping[i]; g >= 0 && l.meanP >= c.cfg.RhoUpdate && l.solo {
			for j, x := range l.vec {
				c.centroids[g][j] += x
			}
		}
	}
	for _, r := range missed {
		i := rows[r]
		l := locals[i]
		if l.meanP >= c.cfg.RhoUpdate && len(c.centroids) < c.cfg.MaxSpeakers {
			mapping[i] = len(c.centroids)
			c.centroids = append(c.centroids, append([]float32(nil), l.vec...))
			used = append(used, true)
			continue
		}
		best, bestD := -1, math.Inf(1)
		for g := range dist[r] {
			if !used[g] && dist[r][g] < bestD {
				best, bestD = g, dist[r][g]
			}
		}
		if best >= 0 {
			mapping[i] = best
			used[best] = true
		}
	}
	return mapping
}
