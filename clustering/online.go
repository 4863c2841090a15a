package clustering

import (
	"math"

	"github.com/whospoke/whospoke/internal/assignment"
)

// Online is the live path's speaker clustering (diart's
// OnlineSpeakerClustering): one centroid per global speaker, kept as the sum
// of the unit embeddings assigned to it (cosine ignores the scale, and a sum
// moves ever more slowly, which keeps labels stable).
type Online struct {
	// MaxSpeakers caps the centroids; DeltaNew is the cosine distance above
	// which a long local speaker far from every centroid founds a new one;
	// RhoUpdate is the mean activity from which a local speaker is long.
	MaxSpeakers         int
	DeltaNew, RhoUpdate float64
	// Centroids are the speakers' summed embeddings (not unit length).
	Centroids [][]float32
}

// OnlineLocal is one local speaker of a live buffer.
type OnlineLocal struct {
	Vec          []float32 // unit embedding; nil: not clustered
	MeanActivity float64   // mean probability over the buffer
	Solo         bool      // Vec comes from speech the speaker holds alone
}

// Assign maps the buffer's local speakers to global ones (-1: none), at most
// one local speaker per global one:
//  1. Hungarian assignment of embedded locals to centroids by cosine
//     distance (CosineCost); a match farther than DeltaNew is rejected;
//  2. a rejected local speaker that is long (mean activity ≥ RhoUpdate)
//     founds a new speaker while there is room, else it takes the nearest
//     centroid still free in this buffer;
//  3. long, solo-embedded locals matched in 1 pull their centroid.
func (o *Online) Assign(locals []OnlineLocal) []int {
	mapping := make([]int, len(locals))
	for i := range mapping {
		mapping[i] = -1
	}
	var rows []int // indexes into locals of clusterable speakers
	var vecs [][]float32
	for i, l := range locals {
		if l.Vec != nil {
			rows, vecs = append(rows, i), append(vecs, l.Vec)
		}
	}
	if len(rows) == 0 {
		return mapping
	}
	dist := CosineCost(vecs, o.Centroids)
	used := make([]bool, len(o.Centroids))
	missed := o.match(dist, rows, mapping, used)
	// Matched long speakers update their centroids (before new ones are
	// added, so a founder is not counted twice).
	for _, i := range rows {
		l := locals[i]
		if g := mapping[i]; g >= 0 && l.MeanActivity >= o.RhoUpdate && l.Solo {
			for j, x := range l.Vec {
				o.Centroids[g][j] += x
			}
		}
	}
	for _, r := range missed {
		i := rows[r]
		l := locals[i]
		if l.MeanActivity >= o.RhoUpdate && len(o.Centroids) < o.MaxSpeakers {
			mapping[i] = len(o.Centroids)
			o.Centroids = append(o.Centroids, append([]float32(nil), l.Vec...))
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

// match is step 1 of Assign: it maps the rows the Hungarian algorithm
// matches within DeltaNew and returns the others.
func (o *Online) match(dist [][]float64, rows, mapping []int, used []bool) (missed []int) {
	if len(o.Centroids) == 0 {
		for r := range rows {
			missed = append(missed, r)
		}
		return missed
	}
	for r, g := range assignment.Minimize(dist) {
		if g >= 0 && dist[r][g] <= o.DeltaNew {
			mapping[rows[r]] = g
			used[g] = true
			continue
		}
		missed = append(missed, r)
	}
	return missed
}
