// Package assignment solves the linear assignment problem (Hungarian
// algorithm): the one-to-one matching of rows to columns with the least total
// cost. Used for speaker mapping in DER, per-window speaker constraints and
// exclusive voiceprint matching.
package assignment

import "math"

// Minimize returns, for each row of the n×m cost matrix, the column it is
// matched to, or -1 when there are more rows than columns and it is left
// out. The total cost of the matched pairs is minimal.
func Minimize(cost [][]float64) []int {
	n := len(cost)
	if n == 0 {
		return nil
	}
	m := len(cost[0])
	transpose := n > m
	if transpose {
		t := make([][]float64, m)
		for j := range m {
			t[j] = make([]float64, n)
			for i := range n {
				t[j][i] = cost[i][j]
			}
		}
		cost, n, m = t, m, n
	}
	p := match(cost, n, m)
	if !transpose {
		rows := make([]int, n)
		for j := 1; j <= m; j++ {
			if p[j] > 0 {
				rows[p[j]-1] = j - 1
			}
		}
		return rows
	}
	// Transposed: rows of the original are the columns here.
	rows := make([]int, m)
	for i := range rows {
		rows[i] = -1
	}
	for j := 1; j <= m; j++ {
		if p[j] > 0 {
			rows[j-1] = p[j] - 1
		}
	}
	return rows
}

// match assigns each of the n rows of cost a distinct one of its m ≥ n
// columns at least total cost: Jonker-Volgenant style shortest augmenting
// paths with potentials, 1-based with a virtual column 0. p[j] is the row
// (1-based) matched to column j, 0 for none.
func match(cost [][]float64, n, m int) (p []int) {
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p = make([]int, m+1)
	way := make([]int, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		minv := make([]float64, m+1)
		used := make([]bool, m+1)
		for j := range minv {
			minv[j] = math.Inf(1)
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := cost[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	return p
}
