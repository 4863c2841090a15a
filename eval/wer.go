package eval

// Transcript scoring: WER with a stated normaliser, cpWER over speakers,
// speaker-attributed word accuracy and word timing error.

import (
	"math"
	"sort"
	"strings"

	"github.com/whospoke/whospoke/internal/assignment"
)

var digitWords = [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// NormaliseWords is the text normaliser of every WER here: lower-case;
// dashes, underscores and other punctuation become spaces (apostrophes
// are dropped, "don't" → "dont"); each digit is spelled as its own word
// ("42" → "four two": the dev set's digit conversations are references of
// single spoken digits); only a-z and spaces are kept. It extends docs/MODELS.md's
// normaliser (lower-case, dashes → spaces, keep a-z 0-9) only by spelling
// digits.
func NormaliseWords(s string) []string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteString(" " + digitWords[r-'0'] + " ")
		case r == '\'' || r == '’':
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}

// EditOp is one step of a word alignment.
type EditOp byte

const (
	OpMatch EditOp = 'M'
	OpSub   EditOp = 'S'
	OpIns   EditOp = 'I' // a hypothesis word with no reference word
	OpDel   EditOp = 'D' // a reference word with no hypothesis word
)

// AlignedPair links reference word Ref and hypothesis word Hyp (-1 when
// absent) by Op.
type AlignedPair struct {
	Ref, Hyp int
	Op       EditOp
}

// AlignWords is the minimum-edit (Levenshtein) alignment of two word
// sequences; substitutions, insertions and deletions cost 1.
func AlignWords(ref, hyp []string) []AlignedPair {
	n, m := len(ref), len(hyp)
	d := make([][]int32, n+1)
	for i := range d {
		d[i] = make([]int32, m+1)
		d[i][0] = int32(i)
	}
	for j := 0; j <= m; j++ {
		d[0][j] = int32(j)
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			c := d[i-1][j-1]
			if ref[i-1] != hyp[j-1] {
				c++
			}
			d[i][j] = min(c, d[i-1][j]+1, d[i][j-1]+1)
		}
	}
	var out []AlignedPair
	i, j := n, m
	for i > 0 || j > 0 {
		switch {
		case i > 0 && j > 0 && ref[i-1] == hyp[j-1] && d[i][j] == d[i-1][j-1]:
			out = append(out, AlignedPair{i - 1, j - 1, OpMatch})
			i, j = i-1, j-1
		case i > 0 && j > 0 && d[i][j] == d[i-1][j-1]+1:
			out = append(out, AlignedPair{i - 1, j - 1, OpSub})
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+1:
			out = append(out, AlignedPair{i - 1, -1, OpDel})
			i--
		default:
			out = append(out, AlignedPair{-1, j - 1, OpIns})
			j--
		}
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

// WordErrors counts substitutions + deletions + insertions between two
// normalised word sequences.
func WordErrors(ref, hyp []string) int {
	e := 0
	for _, p := range AlignWords(ref, hyp) {
		if p.Op != OpMatch {
			e++
		}
	}
	return e
}

// WER is word errors over reference words, after NormaliseWords on both.
func WER(ref, hyp string) (rate float64, errors, refWords int) {
	r, h := NormaliseWords(ref), NormaliseWords(hyp)
	errors = WordErrors(r, h)
	if len(r) == 0 {
		return 0, errors, 0
	}
	return float64(errors) / float64(len(r)), errors, len(r)
}

// CpWER is the concatenated minimum-permutation WER: each speaker's words
// are concatenated in time order, reference and hypothesis speakers are
// matched one to one so that total errors are fewest, and unmatched
// speakers count all their words as errors.
func CpWER(ref, hyp map[string]string) (rate float64, errors, refWords int) {
	rk, hk := keys(ref), keys(hyp)
	rw := make([][]string, len(rk))
	hw := make([][]string, len(hk))
	for i, k := range rk {
		rw[i] = NormaliseWords(ref[k])
		refWords += len(rw[i])
	}
	for j, k := range hk {
		hw[j] = NormaliseWords(hyp[k])
	}
	n := max(len(rk), len(hk))
	cost := make([][]float64, n)
	for i := range cost {
		cost[i] = make([]float64, n)
		for j := range cost[i] {
			var r, h []string
			if i < len(rw) {
				r = rw[i]
			}
			if j < len(hw) {
				h = hw[j]
			}
			cost[i][j] = float64(WordErrors(r, h))
		}
	}
	for i, j := range assignment.Minimize(cost) {
		if j >= 0 {
			errors += int(cost[i][j])
		}
	}
	if refWords == 0 {
		return 0, errors, 0
	}
	return float64(errors) / float64(refWords), errors, refWords
}

func keys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TimedWord is one word with its time and speaker.
type TimedWord struct {
	Start, End float64
	Text       string
	Speaker    string
}

// normaliseTimed splits each word's text with NormaliseWords, giving every
// piece the word's time and speaker ("42" becomes two words).
func normaliseTimed(ws []TimedWord) ([]string, []TimedWord) {
	var text []string
	var out []TimedWord
	for _, w := range ws {
		for _, t := range NormaliseWords(w.Text) {
			text = append(text, t)
			out = append(out, TimedWord{Start: w.Start, End: w.End, Text: t, Speaker: w.Speaker})
		}
	}
	return text, out
}

// TranscriptScore compares a timed, speaker-labelled hypothesis with a
// reference of the same kind.
type TranscriptScore struct {
	RefWords, Errors int
	WER              float64
	// SpeakerAccuracy is the share of reference words whose aligned
	// hypothesis word (match or substitution) carries the right speaker
	// under the best one-to-one speaker mapping; deleted words count as
	// wrong.
	SpeakerAccuracy float64
	// AlignedSpeakerAccuracy is the same count over aligned words only
	// (deletions left out), separating attribution from recognition.
	AlignedSpeakerAccuracy float64
	// MedianStartError is the median |start difference| in seconds over
	// correctly recognised words (NaN when there are none).
	MedianStartError float64
	// Mapping maps hypothesis speakers to reference speakers.
	Mapping map[string]string
}

// ScoreTranscript aligns hyp to ref word by word (both normalised) and
// reports WER, speaker-attributed word accuracy and word timing.
func ScoreTranscript(ref, hyp []TimedWord) TranscriptScore {
	rt, rws := normaliseTimed(ref)
	ht, hws := normaliseTimed(hyp)
	pairs := AlignWords(rt, ht)
	s := TranscriptScore{RefWords: len(rt), MedianStartError: math.NaN(), Mapping: map[string]string{}}
	var speakers []speakerPair
	var starts []float64
	for _, p := range pairs {
		if p.Op != OpMatch {
			s.Errors++
		}
		if p.Ref >= 0 && p.Hyp >= 0 {
			speakers = append(speakers, speakerPair{rws[p.Ref].Speaker, hws[p.Hyp].Speaker})
		}
		if p.Op == OpMatch {
			starts = append(starts, math.Abs(rws[p.Ref].Start-hws[p.Hyp].Start))
		}
	}
	if s.RefWords > 0 {
		s.WER = float64(s.Errors) / float64(s.RefWords)
	}
	if len(starts) > 0 {
		sort.Float64s(starts)
		n := len(starts)
		s.MedianStartError = starts[n/2]
		if n%2 == 0 {
			s.MedianStartError = (starts[n/2-1] + starts[n/2]) / 2
		}
	}
	mapping, right := mapSpeakers(speakers)
	s.Mapping = mapping
	if len(mapping) > 0 {
		if s.RefWords > 0 {
			s.SpeakerAccuracy = float64(right) / float64(s.RefWords)
		}
		s.AlignedSpeakerAccuracy = float64(right) / float64(len(speakers))
	}
	return s
}
