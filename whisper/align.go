package whisper

import (
	"math"
	"sort"
	"strings"
)

// Punctuation openai merges into the following / preceding word.
const (
	prependPunct = "\"'“¿([{-"
	appendPunct  = "\"'.。,，!！?？:：”)]}、"
	sentenceEnds = ".。!！?？"
)

// spaceless languages are split into words per character, not at spaces.
var spaceless = map[string]bool{"zh": true, "ja": true, "th": true, "lo": true, "my": true, "yue": true}

type wordTiming struct {
	word        string
	tokens      []int
	pieces      []Piece // one per token, window-relative times
	start, end  float64
	probability float64
}

// findAlignment times each word of text (openai's timing.find_alignment):
// one decoder pass over sot + <|notimestamps|> + text + eot gives the
// alignment heads' cross-attention; normalised, median-filtered and
// averaged, it is aligned to the audio frames by DTW.
func (m *Model) findAlignment(d *decoder, enc *encoded, lang string, text []int, numFrames int) ([]wordTiming, error) {
	if len(text) == 0 {
		return nil, nil
	}
	sp := m.mc.Special
	sot, err := m.mc.sotSequence(lang, true)
	if err != nil {
		return nil, err
	}
	S := len(sot)
	tokens := append(append(append(append([]int(nil), sot...), sp.NoTimestamps), text...), sp.EOT)
	T := len(tokens)
	H := len(m.mc.AlignmentHeads)
	nf := numFrames / 2
	if nf <= 0 {
		return nil, nil
	}
	matrix := newMatrix(T-1-S, nf) // rows kept: <|notimestamps|> and the text
	// Probability of each text token, from the position before it.
	probs := make([]float64, len(text))
	med := make([]float64, nf+7) // median filter scratch
	w := newMatrix(T, nf)
	d.reset()
	want := make([]int, len(text)) // each text token's probability, from the position before it
	for i := range want {
		want[i] = S + i
	}
	err = d.step(enc, tokens, 0, want, func(rows [][]float32, qk []float32) error {
		for i, t := range text {
			row := rows[i][:sp.EOT]
			probs[i] = math.Exp(float64(row[t]) - logSumExp(row))
		}
		// One head at a time: softmax over the frames kept, standardise
		// each frame over tokens (population std), median-filter along
		// frames, and add the kept rows into the head average.
		for h := range H {
			headWeights(w, qk[h*T*enc.ctx:(h+1)*T*enc.ctx], enc.ctx)
			standardiseFrames(w)
			for i, row := range matrix {
				for f, v := range medianFilter(w[S+i], 7, med) {
					row[f] += v
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, row := range matrix { // DTW runs on the negated head average
		for f := range row {
			row[f] = -row[f] / float64(H)
		}
	}
	textIdx, timeIdx := dtw(matrix)
	return m.wordTimings(text, probs, lang, textIdx, timeIdx), nil
}

func newMatrix(rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
	}
	return m
}

// headWeights fills w (tokens × frames kept) with one head's attention
// (qk: tokens × ctx logits), softmaxed over the frames kept.
func headWeights(w [][]float64, qk []float32, ctx int) {
	for t, row := range w {
		src := qk[t*ctx : t*ctx+len(row)]
		mx := float64(maxOf(src))
		var z float64
		for f, v := range src {
			row[f] = math.Exp(float64(v) - mx)
			z += row[f]
		}
		for f := range row {
			row[f] /= z
		}
	}
}

// standardiseFrames makes each frame (column) of w zero-mean and unit
// population std over tokens.
func standardiseFrames(w [][]float64) {
	T := float64(len(w))
	for f := range w[0] {
		var mean float64
		for _, row := range w {
			mean += row[f]
		}
		mean /= T
		var v float64
		for _, row := range w {
			dv := row[f] - mean
			v += dv * dv
		}
		std := math.Sqrt(v / T)
		for _, row := range w {
			row[f] = (row[f] - mean) / std
		}
	}
}

// wordTimings groups the aligned text tokens into words: each word's
// start and end are where DTW's path enters its first token and the next
// word's, its pieces are its tokens' times, its probability their mean.
func (m *Model) wordTimings(text []int, probs []float64, lang string, textIdx, timeIdx []int) []wordTiming {
	words, groups := m.tok.splitWords(append(append([]int(nil), text...), m.mc.Special.EOT), spaceless[lang])
	if len(groups) <= 1 {
		return nil
	}
	bounds := make([]int, len(groups))
	for i := 1; i < len(groups); i++ {
		bounds[i] = bounds[i-1] + len(groups[i-1])
	}
	var jumps []float64
	for i := range textIdx {
		if i == 0 || textIdx[i] != textIdx[i-1] {
			jumps = append(jumps, float64(timeIdx[i])/TokensPerSecond)
		}
	}
	out := make([]wordTiming, 0, len(groups)-1)
	for i := 0; i+1 < len(groups); i++ {
		a, b := bounds[i], bounds[i+1]
		var p float64
		for _, x := range probs[a:min(b, len(probs))] {
			p += x
		}
		if n := min(b, len(probs)) - a; n > 0 {
			p /= float64(n)
		}
		pieces := make([]Piece, 0, b-a)
		for k := a; k < min(b, len(text)); k++ {
			pieces = append(pieces, Piece{Text: string(m.tok.Piece(text[k])), Start: jumps[k], End: jumps[k+1]})
		}
		out = append(out, wordTiming{word: words[i], tokens: groups[i], pieces: pieces, start: jumps[a], end: jumps[b], probability: p})
	}
	return out
}

// medianFilter is a width-k median along x with reflect padding (torch's
// unfold + sort in openai's timing.median_filter). It returns x filtered in
// place; scratch holds at least len(x)+k values.
func medianFilter(x []float64, k int, scratch []float64) []float64 {
	pad := k / 2
	n := len(x)
	if n <= pad {
		return x
	}
	p := scratch[:n+2*pad]
	for i := range p {
		j := i - pad
		if j < 0 {
			j = -j
		}
		if j >= n {
			j = 2*(n-1) - j
		}
		p[i] = x[j]
	}
	var buf [15]float64
	win := buf[:k]
	for i := range x {
		copy(win, p[i:i+k])
		sort.Float64s(win)
		x[i] = win[pad]
	}
	return x
}

// dtw is openai's dtw_cpu: cost in float32 (as numba's), ties broken
// toward left, then up; returns the path's text and time indices.
func dtw(x [][]float64) (textIdx, timeIdx []int) {
	N := len(x)
	if N == 0 {
		return nil, nil
	}
	M := len(x[0])
	inf := float32(math.Inf(1))
	cost := make([][]float32, N+1)
	trace := make([][]int8, N+1)
	for i := range cost {
		cost[i] = make([]float32, M+1)
		trace[i] = make([]int8, M+1)
		for j := range cost[i] {
			cost[i][j] = inf
			trace[i][j] = -1
		}
	}
	cost[0][0] = 0
	for j := 1; j <= M; j++ {
		for i := 1; i <= N; i++ {
			c0, c1, c2 := cost[i-1][j-1], cost[i-1][j], cost[i][j-1]
			var c float32
			var t int8
			switch {
			case c0 < c1 && c0 < c2:
				c, t = c0, 0
			case c1 < c0 && c1 < c2:
				c, t = c1, 1
			default:
				c, t = c2, 2
			}
			cost[i][j] = float32(x[i-1][j-1] + float64(c))
			trace[i][j] = t
		}
	}
	for j := range trace[0] {
		trace[0][j] = 2
	}
	for i := range trace {
		trace[i][0] = 1
	}
	i, j := N, M
	for i > 0 || j > 0 {
		textIdx = append(textIdx, i-1)
		timeIdx = append(timeIdx, j-1)
		switch trace[i][j] {
		case 0:
			i, j = i-1, j-1
		case 1:
			i--
		default:
			j--
		}
	}
	for a, b := 0, len(textIdx)-1; a < b; a, b = a+1, b-1 {
		textIdx[a], textIdx[b] = textIdx[b], textIdx[a]
		timeIdx[a], timeIdx[b] = timeIdx[b], timeIdx[a]
	}
	return textIdx, timeIdx
}

// mergePunctuation is openai's merge_punctuations.
func mergePunctuation(al []wordTiming) {
	i, j := len(al)-2, len(al)-1
	for i >= 0 {
		prev, next := &al[i], &al[j]
		if strings.HasPrefix(prev.word, " ") && strings.Contains(prependPunct, strings.TrimSpace(prev.word)) {
			next.word = prev.word + next.word
			next.tokens = append(append([]int(nil), prev.tokens...), next.tokens...)
			next.pieces = append(append([]Piece(nil), prev.pieces...), next.pieces...)
			prev.word, prev.tokens, prev.pieces = "", nil, nil
		} else {
			j = i
		}
		i--
	}
	i, j = 0, 1
	for j < len(al) {
		prev, next := &al[i], &al[j]
		if !strings.HasSuffix(prev.word, " ") && strings.Contains(appendPunct, next.word) {
			prev.word += next.word
			prev.tokens = append(append([]int(nil), prev.tokens...), next.tokens...)
			prev.pieces = append(append([]Piece(nil), prev.pieces...), next.pieces...)
			next.word, next.tokens, next.pieces = "", nil, nil
		} else {
			i = j
		}
		j++
	}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// addWordTimestamps is openai's add_word_timestamps: align the window's
// text, clamp implausibly long words, merge punctuation and hand the words
// to their segments, adjusting segment bounds.
func (m *Model) addWordTimestamps(d *decoder, enc *encoded, segs []Segment, lang string, numFrames, seek int, lastSpeech *float64) error {
	perSeg, text := textTokens(segs, m.mc.Special.EOT)
	al, err := m.findAlignment(d, enc, lang, text, numFrames)
	if err != nil {
		return err
	}
	median, maxDur := clampLongWords(al)
	mergePunctuation(al)

	timeOffset := float64(seek) * HopLength / SampleRate
	last := *lastSpeech
	wi := 0
	for si := range segs {
		seg := &segs[si]
		saved := 0
		var words []Word
		for wi < len(al) && saved < len(perSeg[si]) {
			t := al[wi]
			if t.word != "" {
				words = append(words, Word{Text: t.word, Start: round2(timeOffset + t.start), End: round2(timeOffset + t.end), Probability: t.probability, Pieces: offsetPieces(t.pieces, timeOffset)})
			}
			saved += len(t.tokens)
			wi++
		}
		if len(words) > 0 {
			last = fitSegment(seg, words, median, maxDur, last)
		}
		for i := range words {
			clampPieces(&words[i])
		}
		seg.Words = words
	}
	if end, ok := lastWordEnd(segs); ok {
		*lastSpeech = end
	}
	return nil
}

// textTokens are each segment's text tokens (below eot) and all of them.
func textTokens(segs []Segment, eot int) (perSeg [][]int, text []int) {
	perSeg = make([][]int, len(segs))
	for i, s := range segs {
		for _, t := range s.Tokens {
			if t < eot {
				perSeg[i] = append(perSeg[i], t)
			}
		}
		text = append(text, perSeg[i]...)
	}
	return perSeg, text
}

// clampLongWords is openai's limit on word durations: twice the median
// (at most 0.7 s) for a word at a sentence boundary. It returns the
// median and the limit.
func clampLongWords(al []wordTiming) (median, maxDur float64) {
	var durs []float64
	for _, a := range al {
		if dd := a.end - a.start; dd != 0 {
			durs = append(durs, dd)
		}
	}
	if len(durs) > 0 {
		sort.Float64s(durs)
		n := len(durs)
		if n%2 == 1 {
			median = durs[n/2]
		} else {
			median = (durs[n/2-1] + durs[n/2]) / 2
		}
	}
	median = math.Min(0.7, median)
	maxDur = median * 2
	if len(durs) == 0 {
		return median, maxDur
	}
	for i := 1; i < len(al); i++ {
		if al[i].end-al[i].start > maxDur {
			if strings.Contains(sentenceEnds, al[i].word) {
				al[i].end = al[i].start + maxDur
			} else if strings.Contains(sentenceEnds, al[i-1].word) {
				al[i].start = al[i].end - maxDur
			}
		}
	}
	return median, maxDur
}

// fitSegment is openai's fix-up of a segment's first and last words
// against its timestamps (a long first word after a pause is cut to
// maxDur), and returns the segment's end.
func fitSegment(seg *Segment, words []Word, median, maxDur, last float64) float64 {
	w0 := &words[0]
	if w0.End-last > median*4 && (w0.End-w0.Start > maxDur || (len(words) > 1 && words[1].End-w0.Start > maxDur*2)) {
		if len(words) > 1 && words[1].End-words[1].Start > maxDur {
			b := math.Max(words[1].End/2, words[1].End-maxDur)
			w0.End, words[1].Start = b, b
		}
		w0.Start = math.Max(0, w0.End-maxDur)
	}
	if seg.Start < w0.End && seg.Start-0.5 > w0.Start {
		w0.Start = math.Max(0, math.Min(w0.End-median, seg.Start))
	} else {
		seg.Start = w0.Start
	}
	wl := &words[len(words)-1]
	if seg.End > wl.Start && seg.End+0.5 < wl.End {
		wl.End = math.Max(wl.Start+median, seg.End)
	} else {
		seg.End = wl.End
	}
	return seg.End
}

// offsetPieces moves window-relative token times into the recording.
func offsetPieces(ps []Piece, offset float64) []Piece {
	out := make([]Piece, len(ps))
	for i, p := range ps {
		out[i] = Piece{Text: p.Text, Start: round2(offset + p.Start), End: round2(offset + p.End)}
	}
	return out
}

// clampPieces keeps a word's token times inside the word, whose bounds
// the rules above may have moved.
func clampPieces(w *Word) {
	for i := range w.Pieces {
		p := &w.Pieces[i]
		p.Start = min(max(p.Start, w.Start), w.End)
		p.End = min(max(p.End, p.Start), w.End)
	}
}
