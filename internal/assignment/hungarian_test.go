package assignment

import (
	"math/rand/v2"
	"testing"
)

// brute finds the minimal total cost over all injective row→column maps.
func brute(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	best := 1e300
	used := make([]bool, m)
	var rec func(i int, acc float64, skipped int)
	rec = func(i int, acc float64, skipped int) {
		if i == n {
			best = min(best, acc)
			return
		}
		for j := range m {
			if !used[j] {
				used[j] = true
				rec(i+1, acc+cost[i][j], skipped)
				used[j] = false
			}
		}
		if n-skipped > m { // a row may stay unmatched only if rows outnumber columns
			rec(i+1, acc, skipped+1)
		}
	}
	rec(0, 0, 0)
	return best
}

func TestMinimizeMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n, m := 1+r.IntN(5), 1+r.IntN(5)
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				cost[i][j] = float64(r.IntN(20)) - 5
			}
		}
		got := Minimize(cost)
		seen := map[int]bool{}
		total, matched := 0.0, 0
		for i, j := range got {
			if j < 0 {
				continue
			}
			if seen[j] {
				t.Fatalf("trial %d: column %d used twice", trial, j)
			}
			seen[j] = true
			total += cost[i][j]
			matched++
		}
		if matched != min(n, m) {
			t.Fatalf("trial %d: matched %d want %d", trial, matched, min(n, m))
		}
		if want := brute(cost); total != want {
			t.Fatalf("trial %d (%dx%d): cost %v want %v", trial, n, m, total, want)
		}
	}
}
