package eval

// Speaker attribution of words, defined apart from WER (issue 18): a
// reference word is matched to the transcript word with the same normalised
// text that overlaps it most in time; speakers are mapped one to one so that
// the most matched words agree; attribution is the share of matched words
// with the right speaker.

import (
	"cmp"
	"maps"
	"math"
	"slices"

	"github.com/whospoke/whospoke/internal/assignment"
)

// Attribution is the attribution score of a timed, speaker-labelled
// transcript against a timed reference.
type Attribution struct {
	// Ref and Hyp are the normalised words (NormaliseWords; a word that
	// normalises to several, "42", gives pieces with the word's time and
	// speaker).
	Ref, Hyp []TimedWord
	// Match[i] is the index in Hyp matched to Ref[i], or -1.
	Match []int
	// Matched counts matched reference words; Right those whose transcript
	// speaker maps to the reference speaker.
	Matched, Right int
	// Mapping maps transcript speakers to reference speakers (one to one).
	Mapping map[string]string
}

// Accuracy is Right / Matched (0 when nothing matched).
func (a Attribution) Accuracy() float64 {
	if a.Matched == 0 {
		return 0
	}
	return float64(a.Right) / float64(a.Matched)
}

// MatchedShare is Matched / reference words.
func (a Attribution) MatchedShare() float64 {
	if len(a.Ref) == 0 {
		return 0
	}
	return float64(a.Matched) / float64(len(a.Ref))
}

// RightAt says whether matched reference word i has the right speaker.
func (a Attribution) RightAt(i int) bool {
	j := a.Match[i]
	return j >= 0 && a.Mapping[a.Hyp[j].Speaker] == a.Ref[i].Speaker
}

// ScoreAttribution matches ref to hyp and scores attribution. Matching is
// one to one: candidate pairs (same text, overlap > 0) are taken greedily
// by overlap, largest first; ties go to the pair whose centres are closest,
// then to time order, so repeated words pair in order (an STM reference
// gives every word of a segment the segment's time).
func ScoreAttribution(ref, hyp []TimedWord) Attribution {
	_, rw := normaliseTimed(ref)
	_, hw := normaliseTimed(hyp)
	a := Attribution{Ref: rw, Hyp: hw, Match: make([]int, len(rw)), Mapping: map[string]string{}}
	for i := range a.Match {
		a.Match[i] = -1
	}
	type cand struct {
		r, h          int
		overlap, dist float64
	}
	var cands []cand
	for r, x := range rw {
		for h, y := range hw {
			o := math.Min(x.End, y.End) - math.Max(x.Start, y.Start)
			if o > 0 && x.Text == y.Text {
				cands = append(cands, cand{r, h, o, math.Abs(x.Start + x.End - y.Start - y.End)})
			}
		}
	}
	slices.SortFunc(cands, func(p, q cand) int {
		return cmp.Or(cmp.Compare(q.overlap, p.overlap), cmp.Compare(p.dist, q.dist), cmp.Compare(p.r, q.r), cmp.Compare(p.h, q.h))
	})
	used := make([]bool, len(hw))
	for _, c := range cands {
		if a.Match[c.r] < 0 && !used[c.h] {
			a.Match[c.r], used[c.h] = c.h, true
			a.Matched++
		}
	}
	a.Right = a.mapSpeakers()
	return a
}

// mapSpeakers fills Mapping so that the most matched words agree and
// returns how many do.
func (a *Attribution) mapSpeakers() int {
	var pairs []speakerPair
	for i, j := range a.Match {
		if j >= 0 {
			pairs = append(pairs, speakerPair{a.Ref[i].Speaker, a.Hyp[j].Speaker})
		}
	}
	mapping, right := mapSpeakers(pairs)
	maps.Copy(a.Mapping, mapping)
	return right
}

// speakerPair is the reference and transcript speaker of one pair of words.
type speakerPair struct{ ref, hyp string }

// mapSpeakers maps transcript speakers to reference speakers one to one so
// that the most word pairs agree (Hungarian assignment on their counts),
// and returns the mapping and how many pairs agree under it.
func mapSpeakers(pairs []speakerPair) (map[string]string, int) {
	var rs, hs []string
	ri, hi := map[string]int{}, map[string]int{}
	index := func(m map[string]int, l *[]string, k string) int {
		if i, ok := m[k]; ok {
			return i
		}
		m[k] = len(*l)
		*l = append(*l, k)
		return m[k]
	}
	type pair struct{ r, h int }
	counts := map[pair]int{}
	for _, p := range pairs {
		counts[pair{index(ri, &rs, p.ref), index(hi, &hs, p.hyp)}]++
	}
	mapping := map[string]string{}
	if len(hs) == 0 || len(rs) == 0 {
		return mapping, 0
	}
	// Maximise agreeing words = minimise their negation.
	cost := make([][]float64, len(hs))
	for h := range hs {
		cost[h] = make([]float64, len(rs))
		for r := range rs {
			cost[h][r] = -float64(counts[pair{r, h}])
		}
	}
	right := 0
	for h, r := range assignment.Minimize(cost) {
		if r >= 0 {
			mapping[hs[h]] = rs[r]
			right += counts[pair{r, h}]
		}
	}
	return mapping, right
}
