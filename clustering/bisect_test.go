package clustering

import (
	"math/rand/v2"
	"testing"

	"github.com/whospoke/whospoke/embedding"
)

func rows(flat []float32, dim int) [][]float32 {
	var out [][]float32
	for i := 0; i < len(flat); i += dim {
		out = append(out, flat[i:i+dim])
	}
	return out
}

// Two voices mixed in one cluster are told apart, with a low ratio.
func TestBisectTwoGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	flat, truth := blobs(r, embedding.Dim, []int{12, 5}, 0.65) // within-group cosine ≈ 0.7
	b := Bisect(rows(flat, embedding.Dim))
	got := make([]int, len(b.InA))
	for i, a := range b.InA {
		if !a {
			got[i] = 1
		}
	}
	samePartition(t, got, truth)
	if b.Sizes[0]+b.Sizes[1] != 17 || min(b.Sizes[0], b.Sizes[1]) != 5 {
		t.Errorf("sizes %v, want 12 and 5", b.Sizes)
	}
	if b.Ratio > 0.3 {
		t.Errorf("ratio %.3f for distinct groups, want near 0", b.Ratio)
	}
	for g, c := range b.Centroids {
		if n := embedding.Cosine(c, c); n < 0.999 || n > 1.001 {
			t.Errorf("centroid %d is not unit length (%.4f)", g, n)
		}
	}
}

// One voice's noise splits with a ratio near 1; identical members or two
// members do not break it.
func TestBisectOneGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	flat, _ := blobs(r, embedding.Dim, []int{30}, 0.65)
	if b := Bisect(rows(flat, embedding.Dim)); b.Ratio < 0.9 || b.Ratio > 1.1 {
		t.Errorf("ratio %.3f for one group, want near 1", b.Ratio)
	}
	same := [][]float32{flat[:embedding.Dim], flat[:embedding.Dim], flat[:embedding.Dim]}
	if b := Bisect(same); b.Ratio != 1 || b.Sizes[0]+b.Sizes[1] != 3 {
		t.Errorf("identical members: ratio %v sizes %v, want 1 and 3 in all", b.Ratio, b.Sizes)
	}
	two := rows(flat[:2*embedding.Dim], embedding.Dim)
	if b := Bisect(two); b.Sizes != [2]int{1, 1} || b.Ratio != 1 {
		t.Errorf("two members: sizes %v ratio %v, want 1+1 and no ratio (1)", b.Sizes, b.Ratio)
	}
}
