package clustering

import (
	"math"

	"github.com/whospoke/whospoke/embedding"

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
	Weight       float64   // the evidence Vec stands for in a centroid update (0: 1)
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
	limit := make([]float64, len(rows))
	for r, i := range rows {
		limit[r] = o.DeltaNew
		if DeltaMixed > 0 && !locals[i].Solo {
			limit[r] = DeltaMixed
		}
	}
	missed := o.match(dist, rows, mapping, used, limit)
	// Matched long speakers update their centroids (before new ones are
	// added, so a founder is not counted twice).
	for _, i := range rows {
		l := locals[i]
		if g := mapping[i]; g >= 0 && l.MeanActivity >= o.RhoUpdate && l.Solo {
			w := float32(1)
			if l.Weight > 0 {
				w = float32(l.Weight)
			}
			for j, x := range l.Vec {
				o.Centroids[g][j] += w * x
			}
		}
	}
	for _, r := range missed {
		i := rows[r]
		l := locals[i]
		if l.MeanActivity >= max(o.RhoUpdate, RhoFound) && len(o.Centroids) < o.MaxSpeakers && (!SoloFounds || l.Solo) && (!BlendCheck || l.Solo || !o.blend(l.Vec)) {
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

var RejectOption = false
var SoloFounds = false
var DeltaMixed = 0.0
var RhoFound = 0.0
var BlendCheck = false
var BlendLimit = 0.0

// blend reports whether v lies within DeltaNew of an even blend of two
// speakers' voices (the unit mean of their unit centroids).
func (o *Online) blend(v []float32) bool {
	lim := o.DeltaNew
	if BlendLimit > 0 {
		lim = BlendLimit
	}
	unit := make([][]float32, len(o.Centroids))
	for g, c := range o.Centroids {
		unit[g] = append([]float32(nil), c...)
		embedding.Normalize(unit[g])
	}
	for a := range unit {
		for b := a + 1; b < len(unit); b++ {
			m := make([]float32, len(v))
			for j := range m {
				m[j] = unit[a][j] + unit[b][j]
			}
			if 1-embedding.Cosine(v, m) <= lim {
				return true
			}
		}
	}
	return false
}

// match is step 1 of Assign: it maps the rows the Hungarian algorithm
// matches within DeltaNew and returns the others.
func (o *Online) match(dist [][]float64, rows, mapping []int, used []bool, limit []float64) (missed []int) {
	if len(o.Centroids) == 0 {
		for r := range rows {
			missed = append(missed, r)
		}
		return missed
	}
	cost := dist
	if RejectOption {
		// Each row may also be left unmatched at the cost DeltaNew (its
		// own column), so that the matching does not pay for one local's
		// match by pushing another past DeltaNew.
		cost = make([][]float64, len(dist))
		for r := range dist {
			cost[r] = make([]float64, len(dist[r])+len(dist))
			copy(cost[r], dist[r])
			for c := len(dist[r]); c < len(cost[r]); c++ {
				cost[r][c] = 4
			}
			cost[r][len(dist[r])+r] = limit[r]
		}
	}
	for r, g := range assignment.Minimize(cost) {
		if g >= 0 && g < len(dist[r]) && dist[r][g] <= limit[r] {
			mapping[rows[r]] = g
			used[g] = true
			continue
		}
		missed = append(missed, r)
	}
	return missed
}
