package whisper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/whospoke/whospoke/onnx"
)

// decoder is one decoding's state: two preallocated KV caches (the one the
// decoder reads and the one it writes, swapped after every step; one
// tensor per layer for the rewired decoder, one stacked tensor for the
// exported one) and the small tensors of a one-token step, so that a step
// allocates nothing.
type decoder struct {
	m             *Model
	kIn, vIn      []*onnx.CTensor
	kOut, vOut    []*onnx.CTensor
	tok, off      *ort.Tensor[int64]
	row0          *ort.Tensor[int64] // logit_rows of a one-token step: [0]
	logits, qk    *ort.Tensor[float32]
	qkCtx         int // the encoder positions qk was made for
	vocab, layers int
	rows          [][]float32
	// lp is per-step scratch for sampling (probabilities over the
	// vocabulary), kept so that a step allocates nothing.
	lp []float64
	// bigLogits, bigQK back the outputs of multi-token passes (outside
	// the Go heap, as the caches: a prompt prefill's logits are ~50 MB).
	bigLogits, bigQK onnx.CFloat32s
}

func (m *Model) newDecoder() (*decoder, error) {
	d := &decoder{m: m, vocab: m.mc.Dims.NVocab, layers: m.mc.Dims.NTextLayer}
	d.lp = make([]float64, d.vocab)
	D, H := int64(m.mc.Dims.NTextState), int64(m.mc.Dims.NTextHead)
	n, kShape, vShape := 1, ort.NewShape(int64(d.layers), 1, TextCtx, D), ort.NewShape(int64(d.layers), 1, TextCtx, D)
	if m.rewired { // per layer, in the attention's layout (cacheLayout)
		n, kShape, vShape = d.layers, ort.NewShape(1, H, D/H, TextCtx), ort.NewShape(1, H, TextCtx, D/H)
	}
	var err error
	mk := func(shape ort.Shape) []*onnx.CTensor {
		ts := make([]*onnx.CTensor, n)
		for i := range ts {
			var e error
			ts[i], e = onnx.NewCTensor(shape)
			err = errors.Join(err, e)
		}
		return ts
	}
	d.kIn, d.vIn = mk(kShape), mk(vShape)
	if m.rewired {
		// Each layer's cache is read only by the ScatterElements that
		// writes the step's new positions into it (perLayerCaches), and
		// ONNX Runtime's ScatterElements skips copying its input to its
		// output when both are one buffer: so the cache is updated in
		// place instead of copied whole (448 positions) at every step.
		d.kOut, d.vOut = d.kIn, d.vIn
	} else {
		d.kOut, d.vOut = mk(kShape), mk(vShape)
	}
	t0, e0 := ort.NewEmptyTensor[float32](ort.NewShape(1, 1, int64(d.vocab)))
	t1, e1 := ort.NewEmptyTensor[int64](ort.NewShape(1, 1))
	t2, e2 := ort.NewEmptyTensor[int64](ort.NewShape(1))
	t3, e3 := ort.NewEmptyTensor[int64](ort.NewShape(1))
	d.logits, d.tok, d.off, d.row0 = t0, t1, t2, t3
	if err = errors.Join(err, e0, e1, e2, e3); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *decoder) close() {
	caches := slices.Concat(values(d.kIn), values(d.vIn))
	if !d.m.rewired {
		caches = slices.Concat(caches, values(d.kOut), values(d.vOut))
	}
	for _, t := range slices.Concat(caches, []ort.Value{d.logits, d.qk, d.tok, d.off, d.row0}) {
		if t != nil && !isNilTensor(t) {
			t.Destroy()
		}
	}
	d.bigLogits.Free()
	d.bigQK.Free()
}

func values(ts []*onnx.CTensor) []ort.Value {
	vs := make([]ort.Value, len(ts))
	for i, t := range ts {
		vs[i] = t
	}
	return vs
}

func isNilTensor(v ort.Value) bool {
	switch t := v.(type) {
	case *ort.Tensor[float32]:
		return t == nil
	case *ort.Tensor[int64]:
		return t == nil
	case *onnx.CTensor:
		return t == nil
	}
	return false
}

// qkFor returns the one-token step's alignment output for ctx encoder
// positions, made again only when the window width changes.
func (d *decoder) qkFor(ctx int) (*ort.Tensor[float32], error) {
	if d.qk != nil && d.qkCtx == ctx {
		return d.qk, nil
	}
	if d.qk != nil {
		d.qk.Destroy()
		d.qk = nil
	}
	t, err := ort.NewEmptyTensor[float32](ort.NewShape(1, int64(len(d.m.mc.AlignmentHeads)), 1, int64(ctx)))
	if err != nil {
		return nil, err
	}
	d.qk, d.qkCtx = t, ctx
	return t, nil
}

// reset empties the cache for a new window. Positions past the offset are
// masked by the model, but zeros keep runs reproducible.
func (d *decoder) reset() {
	for _, t := range slices.Concat(d.kIn, d.vIn) {
		t.ZeroContents()
	}
}

// step feeds tokens at cache position offset and hands use the logits of
// the fed positions listed in want (rows[i] is position want[i]; the
// rewired decoder projects only those, logitRows) and the alignment
// heads' attention scores ([heads][T][enc.ctx]); both are only valid
// inside use, which saves copying a prefill's logits.
func (d *decoder) step(enc *encoded, tokens []int, offset int, want []int, use func(rows [][]float32, qk []float32) error) error {
	T := len(tokens)
	if offset+T > TextCtx {
		return fmt.Errorf("whisper: %d tokens at offset %d exceed the decoder's %d positions", T, offset, TextCtx)
	}
	d.off.GetData()[0] = int64(offset)
	qk1, err := d.qkFor(enc.ctx)
	if err != nil {
		return err
	}
	ins := []ort.Value{d.tok}
	lt, qt := ort.Value(d.logits), ort.Value(qk1)
	if T == 1 && len(want) != 1 {
		return fmt.Errorf("whisper: a one-token step gives one row of logits, not %d", len(want))
	} else if T == 1 {
		d.tok.GetData()[0] = int64(tokens[0])
	} else {
		var free func()
		if ins[0], lt, qt, free, err = d.bigPass(enc, tokens, len(want)); err != nil {
			return err
		}
		defer free()
	}
	ins = slices.Concat(ins, values(d.kIn), values(d.vIn), d.m.crossInputs(enc), []ort.Value{d.off})
	if d.m.rewired {
		rowsIn, free, err := d.rowsTensor(want)
		if err != nil {
			return err
		}
		defer free()
		ins = append(ins, rowsIn)
	}
	outs := slices.Concat([]ort.Value{lt}, values(d.kOut), values(d.vOut), []ort.Value{qt})
	if err := d.m.dec.Run(ins, outs); err != nil {
		return fmt.Errorf("running decoder: %w", err)
	}
	d.kIn, d.kOut = d.kOut, d.kIn
	d.vIn, d.vOut = d.vOut, d.vIn
	lg := lt.(*ort.Tensor[float32]).GetData()
	qk := qt.(*ort.Tensor[float32]).GetData()
	if cap(d.rows) < len(want) {
		d.rows = make([][]float32, len(want))
	}
	rows := d.rows[:len(want)]
	for i, p := range want {
		if d.m.rewired {
			p = i // only the wanted rows were projected
		}
		rows[i] = lg[p*d.vocab : (p+1)*d.vocab]
	}
	return use(rows, qk)
}

// rowsTensor is the rewired decoder's logit_rows input: the one-token
// step's [0] is made once, other lists per pass (free releases them).
func (d *decoder) rowsTensor(want []int) (*ort.Tensor[int64], func(), error) {
	if slices.Equal(want, lastRow) {
		return d.row0, func() {}, nil
	}
	data := make([]int64, len(want))
	for i, p := range want {
		data[i] = int64(p)
	}
	t, err := ort.NewTensor(ort.NewShape(int64(len(want))), data)
	if err != nil {
		return nil, nil, err
	}
	return t, func() { t.Destroy() }, nil
}

// bigPass makes the tensors of a multi-token pass: its tokens, and outputs
// for k rows of logits and T rows of alignment scores in buffers that grow
// to the longest pass and are reused (left to the runtime, each pass would
// copy its logits into fresh Go memory). free releases the tensors.
func (d *decoder) bigPass(enc *encoded, tokens []int, k int) (tokIn, lt, qt ort.Value, free func(), err error) {
	T := len(tokens)
	if !d.m.rewired {
		k = T // the exported decoder projects every position
	}
	data := make([]int64, T)
	for i, t := range tokens {
		data[i] = int64(t)
	}
	H, A := len(d.m.mc.AlignmentHeads), enc.ctx
	if err := errors.Join(d.bigLogits.Grow(k*d.vocab), d.bigQK.Grow(H*T*A)); err != nil {
		return nil, nil, nil, nil, err
	}
	ti, e1 := ort.NewTensor(ort.NewShape(1, int64(T)), data)
	l, e2 := ort.NewTensor(ort.NewShape(1, int64(k), int64(d.vocab)), d.bigLogits.Data[:k*d.vocab])
	q, e3 := ort.NewTensor(ort.NewShape(1, int64(H), int64(T), int64(A)), d.bigQK.Data[:H*T*A])
	free = func() {
		for _, t := range []ort.Value{ti, l, q} {
			if !isNilTensor(t) {
				t.Destroy()
			}
		}
	}
	if err := errors.Join(e1, e2, e3); err != nil {
		free()
		return nil, nil, nil, nil, err
	}
	return ti, l, q, free, nil
}

// DecodeOptions are the settings of one window's decoding (openai's
// DecodingOptions, greedy or sampled).
type DecodeOptions struct {
	// Language is the language code; "" means English for English-only
	// models and must be set (or detected first) for multilingual ones.
	Language string
	// Temperature 0 is greedy; above 0 samples from softmax(logits/T).
	Temperature float64
	// Timestamps turns on timestamp tokens (long-form decoding).
	Timestamps bool
	// Prompt is previous text tokens (conditioning); at most 223 are used.
	Prompt []int
	// Prefix is tokens the decoding is forced to begin with (openai's
	// DecodingOptions.prefix), e.g. a live turn's words already committed:
	// they are fed in the first pass instead of being sampled one step
	// each, and are part of the result. In timestamp mode it begins with a
	// timestamp token.
	Prefix []int
	// MaxInitialTimestamp bounds the first timestamp, in seconds (1.0 in
	// openai's transcribe).
	MaxInitialTimestamp float64
	// SampleLen is the most tokens decoded, the prefix included (0 = 224).
	SampleLen int
	// Seed seeds sampling at temperatures above 0.
	Seed uint64
}

// DecodeResult is one window's decoding.
type DecodeResult struct {
	Tokens           []int // sampled tokens up to (not including) eot
	Text             string
	Language         string // the language decoded in
	AvgLogprob       float64
	NoSpeechProb     float64
	Temperature      float64
	CompressionRatio float64
}

// Decode decodes one 80×3000 mel window (from LogMel), or with the
// variable-length files an 80×T one (T even, at most 3000).
func (m *Model) Decode(ctx context.Context, mel []float32, opt DecodeOptions) (*DecodeResult, error) {
	encs, err := m.encode(mel)
	if err != nil {
		return nil, err
	}
	defer encs[0].release()
	d, err := m.newDecoder()
	if err != nil {
		return nil, err
	}
	defer d.close()
	if opt.Language == "" && m.mc.Multilingual {
		if opt.Language, _, err = m.detectLanguage(d, encs[0]); err != nil {
			return nil, err
		}
	}
	return m.decodeWindow(ctx, d, encs[0], opt)
}

func (m *Model) decodeWindow(ctx context.Context, d *decoder, enc *encoded, opt DecodeOptions) (*DecodeResult, error) {
	sp := m.mc.Special
	seq, err := m.mc.sotSequence(opt.Language, opt.Timestamps)
	if err != nil {
		return nil, err
	}
	tokens := promptSequence(opt.Prompt, sp.SOTPrev, seq)
	sampleBegin := len(tokens)
	sotIndex := sampleBegin - len(seq)
	sampleLen := opt.SampleLen
	if sampleLen <= 0 {
		sampleLen = TextCtx / 2
	}
	tokens = append(tokens, opt.Prefix...)
	var rng *rand.Rand
	if opt.Temperature > 0 {
		rng = rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	}
	res := &DecodeResult{Temperature: opt.Temperature, Language: cmp.Or(opt.Language, "en")}
	d.reset()
	var sum float64
	feed := tokens
	offset := 0
	for i := len(opt.Prefix); i < sampleLen; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var next int
		var logprob float64 // next's
		// The logits of the next token; the first pass also needs sot's.
		first := offset == 0
		want := lastRow
		if first {
			want = []int{sotIndex, len(feed) - 1}
			if sotIndex == len(feed)-1 {
				want = want[:1]
			}
		}
		err := d.step(enc, feed, offset, want, func(rows [][]float32, _ []float32) error {
			if first {
				sot := rows[0]
				res.NoSpeechProb = math.Exp(float64(sot[sp.NoSpeech]) - logSumExp(sot))
			}
			logits := rows[len(rows)-1]
			m.applyFilters(logits, tokens[sampleBegin:], opt, enc.ctx)
			next = argmax(logits)
			if rng != nil {
				next = sample(logits, opt.Temperature, rng, d.lp)
			}
			logprob = float64(logits[next]) - logSumExp(logits)
			return nil
		})
		if err != nil {
			return nil, err
		}
		offset += len(feed)
		sum += logprob
		tokens = append(tokens, next)
		if next == sp.EOT || len(tokens) > TextCtx {
			break
		}
		feed = tokens[len(tokens)-1:]
	}
	m.finish(res, tokens[sampleBegin:], sum, len(opt.Prefix))
	return res, nil
}

// promptSequence is a window's first tokens: <|startofprev|> and the end
// of the prompt (at most 223 tokens), if any, then the sot sequence.
func promptSequence(prompt []int, sotPrev int, seq []int) []int {
	if len(prompt) == 0 {
		return seq
	}
	if n := TextCtx/2 - 1; len(prompt) > n {
		prompt = prompt[len(prompt)-n:]
	}
	return append(append([]int{sotPrev}, prompt...), seq...)
}

// finish completes res from the decoded tokens (eot included, if sampled),
// of which the first forced were the prefix, and the sum of the sampled
// ones' log-probabilities.
func (m *Model) finish(res *DecodeResult, decoded []int, sum float64, forced int) {
	if i := slices.Index(decoded, m.mc.Special.EOT); i >= 0 {
		decoded = decoded[:i]
	}
	res.Tokens = append([]int(nil), decoded...)
	res.Text = strings.TrimSpace(m.tok.Decode(res.Tokens))
	res.AvgLogprob = sum / float64(len(res.Tokens)-forced+1)
	res.CompressionRatio = compressionRatio(res.Text)
}

var negInf = float32(math.Inf(-1))

// lastRow is the logits a one-token step needs.
var lastRow = []int{0}

// applyFilters applies openai's logit filters: SuppressBlank, SuppressTokens
// and, in timestamp mode, ApplyTimestampRules. sampled are the tokens
// sampled so far in this window; ctx is its number of encoder positions.
func (m *Model) applyFilters(logits []float32, sampled []int, opt DecodeOptions, ctx int) {
	sp := m.mc.Special
	if len(sampled) == 0 {
		for _, t := range m.mc.SuppressBegin {
			logits[t] = negInf
		}
	}
	for _, t := range m.suppress {
		logits[t] = negInf
	}
	if !opt.Timestamps {
		return
	}
	tb := sp.TimestampBegin
	logits[sp.NoTimestamps] = negInf
	// A short window has no audio past its ctx positions, so no time
	// there (a no-op at 1500, the last timestamp token).
	if end := tb + ctx + 1; end < len(logits) {
		fill(logits[end:], negInf)
	}
	n := len(sampled)
	last := n >= 1 && sampled[n-1] >= tb
	penult := n < 2 || sampled[n-2] >= tb
	if last {
		if penult { // a pair just closed: text must follow
			fill(logits[tb:], negInf)
		} else { // an open timestamp: the next cannot be text
			fill(logits[:sp.EOT], negInf)
		}
	}
	lastTS := -1
	for _, t := range sampled {
		if t >= tb {
			lastTS = t
		}
	}
	if lastTS >= 0 {
		// Timestamps never decrease, and a segment must have nonzero
		// length, so the loop cannot stall.
		upTo := lastTS + 1
		if last && !penult {
			upTo = lastTS
		}
		fill(logits[tb:upTo], negInf)
	}
	if n == 0 {
		fill(logits[:tb], negInf)
		if opt.MaxInitialTimestamp > 0 {
			lastAllowed := tb + int(math.Round(opt.MaxInitialTimestamp/TimePrecision))
			if lastAllowed+1 < len(logits) {
				fill(logits[lastAllowed+1:], negInf)
			}
		}
	}
	// If timestamps together are likelier than any single text token,
	// force a timestamp. Both sides' log-probabilities share the softmax's
	// normaliser, so the logits compare alike: no softmax over the
	// vocabulary at every step (it was 15 % of a live clip's decoding).
	if logSumExp(logits[tb:]) > float64(logits[argmax(logits[:tb])]) {
		fill(logits[:tb], negInf)
	}
}

// detectLanguage runs the decoder on <|startoftranscript|> alone and picks
// the likeliest language token.
func (m *Model) detectLanguage(d *decoder, enc *encoded) (string, map[string]float64, error) {
	if !m.mc.Multilingual {
		return "en", map[string]float64{"en": 1}, nil
	}
	d.reset()
	var lg []float32
	err := d.step(enc, []int{m.mc.Special.SOT}, 0, lastRow, func(rows [][]float32, _ []float32) error {
		lg = append([]float32(nil), rows[0]...)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	codes := m.mc.Languages()
	best, bestV := "", math.Inf(-1)
	mx := math.Inf(-1)
	for _, c := range codes {
		mx = math.Max(mx, float64(lg[m.mc.Special.LangIDByCode[c]]))
	}
	probs := make(map[string]float64, len(codes))
	var z float64
	for _, c := range codes {
		v := float64(lg[m.mc.Special.LangIDByCode[c]])
		probs[c] = math.Exp(v - mx)
		z += probs[c]
		if v > bestV {
			best, bestV = c, v
		}
	}
	for c := range probs {
		probs[c] /= z
	}
	return best, probs, nil
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// logSumExp is log Σ exp(x), the log-softmax's normaliser: a token's
// log-probability is its logit minus it.
func logSumExp(x []float32) float64 {
	mx := float64(maxOf(x))
	if math.IsInf(mx, -1) {
		return mx
	}
	var z float64
	for _, v := range x {
		z += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(z)
}

// sample draws a token from softmax(logits/temp); scratch holds at least
// len(logits) values (a fallback window samples up to 224 times: a fresh
// vocabulary-sized slice each time made most of Whisper's Go garbage).
func sample(logits []float32, temp float64, rng *rand.Rand, scratch []float64) int {
	mx := float64(maxOf(logits)) / temp // dividing by temp keeps the order
	var z float64
	p := scratch[:len(logits)]
	for i, v := range logits {
		p[i] = math.Exp(float64(v)/temp - mx)
		z += p[i]
	}
	r := rng.Float64() * z
	for i, v := range p {
		if r < v {
			return i
		}
		r -= v
	}
	return argmax(logits)
}
