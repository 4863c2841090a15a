package eval

import (
	"math/rand/v2"
	"testing"
)

// bestByBruteForce tries every injective pairing of rows into columns.
func bestByBruteForce(w [][]float64) float64 {
	cols := len(w[0])
	used := make([]bool, cols)
	var try func(i int) float64
	try = func(i int) float64 {
		if i == len(w) {
			return 0
		}
		best := try(i + 1) // row i unpaired
		for j := range cols {
			if !used[j] {
				used[j] = true
				best = max(best, w[i][j]+try(i+1))
				used[j] = false
			}
		}
		return best
	}
	return try(0)
}

func TestMaxWeightMatchingIsOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 300 {
		rows, cols := 1+n%6, 1+(n/6)%6
		w := make([][]float64, rows)
		for i := range w {
			w[i] = make([]float64, cols)
			for j := range w[i] {
				if rng.IntN(3) > 0 { // leave zeros: speakers that never overlap
					w[i][j] = float64(rng.IntN(50)) / 4
				}
			}
		}
		match := maxWeightMatching(w)
		seen := map[int]bool{}
		total := 0.0
		for i, j := range match {
			if j < 0 {
				continue
			}
			if seen[j] || w[i][j] <= 0 {
				t.Fatalf("%v: invalid matching %v", w, match)
			}
			seen[j] = true
			total += w[i][j]
		}
		if want := bestByBruteForce(w); total != want {
			t.Fatalf("%v: matching %v weighs %v, optimum %v", w, match, total, want)
		}
	}
}

func TestMaxWeightMatchingEmpty(t *testing.T) {
	if m := maxWeightMatching(nil); len(m) != 0 {
		t.Errorf("no rows: %v", m)
	}
	if m := maxWeightMatching([][]float64{{}, {}}); len(m) != 2 || m[0] != -1 || m[1] != -1 {
		t.Errorf("no columns: %v, want [-1 -1]", m)
	}
}
