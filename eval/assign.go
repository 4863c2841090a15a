package eval

import "github.com/whospoke/whospoke/internal/assignment"

// maxWeightMatching pairs rows with columns one-to-one so that the summed
// weight of the pairs is maximal. It returns each row's column, or -1 for a
// row left unpaired or paired only at weight zero or less: such a pair earns
// nothing, and md-eval never maps speakers that do not overlap.
func maxWeightMatching(w [][]float64) []int {
	match := make([]int, len(w))
	for i := range match {
		match[i] = -1
	}
	if len(w) == 0 || len(w[0]) == 0 {
		return match
	}
	cost := make([][]float64, len(w))
	for i, row := range w {
		cost[i] = make([]float64, len(row))
		for j, x := range row {
			cost[i][j] = -x
		}
	}
	for i, j := range assignment.Minimize(cost) {
		if j >= 0 && w[i][j] > 0 {
			match[i] = j
		}
	}
	return match
}
