package clustering

import "github.com/whospoke/whospoke/embedding"

// Bisection is a split of unit vectors into two groups.
type Bisection struct {
	InA       []bool       // member i is in group A
	Sizes     [2]int       // members of A and of B
	Centroids [2][]float32 // unit means of A and of B
	// Ratio is the mean cosine between members of different groups over
	// the mean cosine between members of one group: near 1 when the split
	// only cuts noise, lower the more the groups are distinct voices. It is
	// scale-free, so it reads the same for tight and for loose clusters.
	Ratio float64
}

// bisectRounds bounds the 2-means iterations; it settles in a few.
const bisectRounds = 20

// Bisect splits vecs (unit vectors, at least two) by spherical 2-means,
// started deterministically from the member least like the mean and the
// member least like that one.
func Bisect(vecs [][]float32) Bisection {
	dim := len(vecs[0])
	mean := make([]float32, dim)
	for _, v := range vecs {
		addTo(mean, v)
	}
	embedding.Normalize(mean)
	a := farthest(vecs, mean)
	b := farthest(vecs, a)
	in := make([]bool, len(vecs))
	for range bisectRounds {
		changed := false
		for i, v := range vecs {
			x := embedding.Cosine(v, a) >= embedding.Cosine(v, b)
			changed = changed || x != in[i]
			in[i] = x
		}
		sa, sb := make([]float32, dim), make([]float32, dim)
		for i, v := range vecs {
			if in[i] {
				addTo(sa, v)
			} else {
				addTo(sb, v)
			}
		}
		a, b = sa, sb
		if !changed || dot(a, a) == 0 || dot(b, b) == 0 {
			break // settled, or one group is empty (all members alike)
		}
	}
	// a and b are now the groups' sums. For unit vectors the summed cosine
	// over the pairs within a group is (|sum|² − n)/2, and across groups it
	// is sumA·sumB, so both means cost O(n).
	var s Bisection
	s.InA = in
	for _, x := range in {
		if x {
			s.Sizes[0]++
		} else {
			s.Sizes[1]++
		}
	}
	na, nb := float64(s.Sizes[0]), float64(s.Sizes[1])
	s.Ratio = 1
	if pairs := na*(na-1) + nb*(nb-1); na > 0 && nb > 0 && pairs > 0 {
		if within := (dot(a, a) - na + dot(b, b) - nb) / pairs; within > 0 {
			s.Ratio = dot(a, b) / (na * nb) / within
		}
	}
	embedding.Normalize(a)
	embedding.Normalize(b)
	s.Centroids = [2][]float32{a, b}
	return s
}

// farthest returns a copy of the member of vecs least like ref.
func farthest(vecs [][]float32, ref []float32) []float32 {
	best, score := vecs[0], 2.0
	for _, v := range vecs {
		if c := embedding.Cosine(v, ref); c < score {
			best, score = v, c
		}
	}
	return append([]float32(nil), best...)
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
