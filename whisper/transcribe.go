package whisper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Options control long-form transcription (openai's transcribe arguments).
// Start from DefaultOptions.
type Options struct {
	// Language code; "" detects it on the first window (multilingual
	// models) or means English (English-only models).
	Language string
	// Temperatures are tried in order while a window fails the checks below.
	Temperatures []float64
	// CompressionRatioThreshold: text more compressible than this is a
	// repetition loop (0 disables the check).
	CompressionRatioThreshold float64
	// LogprobThreshold: an average token log-probability below this fails
	// (NaN disables the check).
	LogprobThreshold float64
	// NoSpeechThreshold: a window whose no-speech probability is above this
	// and whose text is unlikely is silence and yields nothing (NaN disables).
	NoSpeechThreshold float64
	// ConditionOnPreviousText prompts each window with the text so far.
	ConditionOnPreviousText bool
	// InitialPrompt is text that conditions the first window (openai's
	// initial_prompt: earlier words, spellings); it is not in the result.
	InitialPrompt string
	// Prefix is text the first window's decoding must begin with (openai's
	// prefix), e.g. the words of a live turn that earlier decodes agreed
	// on: they are fed at once rather than decoded token by token, and are
	// in the result with their word times.
	Prefix string
	// WindowFrames is the encoder window in mel frames: 0 or 3000 is 30 s;
	// shorter (even, ≥ 2) needs Model.VariableWindow. Each window then holds
	// at most that much audio, followed by the zeros the model expects, so
	// a short window should exceed the audio (TranscribeClip picks it). A
	// short window is decoded greedily with its output capped at 6 tokens/s
	// + 10; when it hits the cap, its text repeats or the model calls it
	// probably silent, it is decoded again in 30 s with the temperature
	// fallback (docs/MODELS.md's guard, plus the silence check).
	WindowFrames int
	// ShortOnly keeps a short window's guard from falling back: a window
	// that fails it makes Transcribe return ErrShortWindowFailed instead of
	// decoding again in 30 s, for a caller that can wait for its next,
	// longer clip (live partials: the 30 s encoder costs 4–5 times the
	// short one, and most clips under 3 s of digits fail the guard).
	ShortOnly bool
	// RetryUnprompted decodes a short window that fails the guard after a
	// prompt once more without it, on the same encoder output, before it
	// counts as failed: a prompt can drag Whisper into repeating it (live
	// partials after a digit string, docs/TRANSCRIPTION_BENCH.md).
	RetryUnprompted bool
	// WordTimestamps adds word times from cross-attention alignment.
	WordTimestamps bool
	// MaxTokens caps the tokens sampled per window (0 = openai's 224).
	MaxTokens int
	// OneWindow decodes each clip as one window (a live clip fits one):
	// openai's seek to the last word's end would decode the clip's tail of
	// silence again, where a prompted short window hallucinates and falls
	// back through every temperature (20 s for a 2.6 s clip on dev).
	OneWindow bool
	// Clips limits decoding to these spans (seconds, sorted, disjoint);
	// nil means the whole recording. Each window starts inside a clip and
	// sees no audio past the clip's end.
	Clips [][2]float64
	// BatchSize is how many clip-start windows the encoder runs in one call
	// (their input does not depend on decoding); 0 or 1 means one at a time.
	BatchSize int
	// Progress, when set, is called with the frames done and the total.
	Progress func(done, total int)
}

// DefaultOptions are openai-whisper's transcribe defaults.
func DefaultOptions() Options {
	return Options{
		Temperatures:              []float64{0, 0.2, 0.4, 0.6, 0.8, 1.0},
		CompressionRatioThreshold: 2.4,
		LogprobThreshold:          -1,
		NoSpeechThreshold:         0.6,
		ConditionOnPreviousText:   true,
		WordTimestamps:            true,
	}
}

// Word is one word with its time in the recording.
type Word struct {
	Start, End  float64
	Text        string // with its leading space, as Whisper spells it
	Probability float64
	// Pieces are the word's tokens with their aligned times (inside the
	// word's), so a word can be split between speakers (a numeral read by
	// two). Empty when the word was not aligned.
	Pieces []Piece
}

// Piece is one token of a word: its text (bytes of the token; a character
// split across tokens is not valid UTF-8 alone) and aligned time.
type Piece struct {
	Start, End float64
	Text       string
}

// Segment is one timestamped stretch of text.
type Segment struct {
	Start, End       float64
	Text             string
	Tokens           []int
	Temperature      float64
	AvgLogprob       float64
	CompressionRatio float64
	NoSpeechProb     float64
	// WindowFrames is the encoder window the segment was decoded in:
	// 3000, or Options.WindowFrames when that short window passed the guard.
	WindowFrames int
	Words        []Word
}

// Result is a whole recording's transcription.
type Result struct {
	Language string
	Text     string
	Segments []Segment
}

// Words lists every word of every segment in order.
func (r *Result) Words() []Word {
	var ws []Word
	for _, s := range r.Segments {
		ws = append(ws, s.Words...)
	}
	return ws
}

// Transcribe transcribes src window by window as openai's transcribe does:
// decode 30 s from the seek position with timestamp tokens, cut the text into
// segments at timestamp pairs, move the seek to the last complete segment,
// fall back to higher temperatures on repetition or low confidence, and skip
// windows the model calls silent.
func (m *Model) Transcribe(ctx context.Context, src Source, opt Options) (*Result, error) {
	if len(opt.Temperatures) == 0 {
		opt.Temperatures = []float64{0}
	}
	width := cmp.Or(opt.WindowFrames, WindowFrames)
	if err := m.checkWindow(width); err != nil {
		return nil, err
	}
	lm, err := newLongMel(m.filters, src)
	if err != nil {
		return nil, err
	}
	content := contentFrames(src.Len())
	clips, err := seekClips(opt.Clips, content)
	if err != nil {
		return nil, err
	}
	d, err := m.newDecoder()
	if err != nil {
		return nil, err
	}
	defer d.close()
	ahead := newLookahead(m, lm, clips, content, width, opt.BatchSize)
	defer ahead.release()

	res := &Result{}
	if res.Language, err = m.language(ctx, d, ahead, opt.Language, clips[0], content, width); err != nil {
		return nil, err
	}

	first, err := m.initialText(opt)
	if err != nil {
		return nil, err
	}
	allTokens, prefix := first.prompt, first.prefix
	textFrom := len(allTokens)
	promptFrom := 0
	lastSpeech := 0.0
	for ci := 0; ; {
		var ok bool
		if ci, ok = ahead.inClip(clips, ci); !ok {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seek := ahead.seek
		size := min(width, content-seek, clips[ci][1]-seek)
		var prompt []int
		if len(allTokens) > promptFrom {
			prompt = allTokens[promptFrom:]
		}
		r, enc, err := m.decodeAt(ctx, d, ahead, opt, width, res.Language, conditioning{prompt, prefix}, seek, size)
		if err != nil {
			return nil, err
		}
		prefix = nil
		if silent(r, opt) {
			ahead.seek = seek + size // silence: skip the window
			ahead.progress(opt.Progress)
			continue
		}
		segs, next, err := m.windowSegments(d, enc, r, opt, res.Language, seek, size, &lastSpeech)
		if err != nil {
			return nil, err
		}
		ahead.seek = next
		for i := range segs {
			allTokens = append(allTokens, segs[i].Tokens...)
		}
		res.Segments = append(res.Segments, segs...)
		if !opt.ConditionOnPreviousText || r.Temperature > 0.5 {
			promptFrom = len(allTokens)
		}
		ahead.progress(opt.Progress)
	}
	res.Text = m.tok.Decode(allTokens[textFrom:])
	return res, nil
}

// inClip moves the seek into clip ci or a later one, and returns that
// clip's index, or false when the seek is past the last.
func (a *lookahead) inClip(clips [][2]int, ci int) (int, bool) {
	for ; ci < len(clips); ci++ {
		a.seek = max(a.seek, clips[ci][0])
		if a.seek < clips[ci][1] {
			return ci, true
		}
	}
	return ci, false
}

// language is the language to decode in: the one asked for, else "en",
// or for a multilingual model the one it detects on the first 30 s of the
// first clip (openai detects on the file's, but leading silence should
// not decide).
func (m *Model) language(ctx context.Context, d *decoder, ahead *lookahead, asked string, clip [2]int, content, width int) (string, error) {
	lang := asked
	if lang == "" {
		lang = "en"
		if m.mc.Multilingual {
			enc, err := ahead.get(ctx, clip[0], min(width, content-clip[0], clip[1]-clip[0]), width)
			if err != nil {
				return "", err
			}
			if lang, _, err = m.detectLanguage(d, enc); err != nil {
				return "", err
			}
		}
	}
	_, err := m.mc.sotSequence(lang, true)
	return lang, err
}

// windowSegments cuts one decoded window into segments (with word times
// when asked for) and returns them with the seek position after them.
// Segments without text or length keep their times but carry no tokens.
func (m *Model) windowSegments(d *decoder, enc *encoded, r *DecodeResult, opt Options, lang string, seek, size int, lastSpeech *float64) ([]Segment, int, error) {
	timeOffset := float64(seek) * HopLength / SampleRate
	segs, next := m.segmentsOf(r, timeOffset, seek, size, float64(size)*HopLength/SampleRate)
	if opt.WordTimestamps && len(segs) > 0 {
		single := singleTimestampEnding(r.Tokens, m.mc.Special.TimestampBegin)
		if err := m.addWordTimestamps(d, enc, segs, lang, size, seek, lastSpeech); err != nil {
			return nil, 0, err
		}
		if !single {
			if end, ok := lastWordEnd(segs); ok && end > timeOffset {
				next = int(math.Round(end * FramesPerSecond))
			}
		}
	}
	if next <= seek || opt.OneWindow {
		next = seek + size // never reached by openai's rules; guards against a stall
	}
	for i := range segs {
		s := &segs[i]
		if s.Start == s.End || strings.TrimSpace(s.Text) == "" {
			s.Text, s.Tokens, s.Words = "", nil, nil
		}
		s.WindowFrames = 2 * enc.ctx
	}
	return segs, next, nil
}

// promptTokens encodes an initial prompt as openai does (" " + trimmed text).
func (m *Model) promptTokens(prompt string) ([]int, error) {
	if strings.TrimSpace(prompt) == "" {
		return nil, nil
	}
	toks, err := m.tok.Encode(" " + strings.TrimSpace(prompt))
	if err != nil {
		return nil, fmt.Errorf("whisper: encoding the prompt: %w", err)
	}
	return toks, nil
}

// initialText encodes the first window's prompt and forced prefix.
func (m *Model) initialText(opt Options) (conditioning, error) {
	prompt, err := m.promptTokens(opt.InitialPrompt)
	if err != nil {
		return conditioning{}, err
	}
	prefix, err := m.prefixTokens(opt.Prefix)
	return conditioning{prompt, prefix}, err
}

// prefixTokens encodes a forced prefix as a first window begins: the
// window's first timestamp, then the text as promptTokens spells it.
func (m *Model) prefixTokens(prefix string) ([]int, error) {
	toks, err := m.promptTokens(prefix)
	if err != nil || len(toks) == 0 {
		return nil, err
	}
	return append([]int{m.mc.Special.TimestampBegin}, toks...), nil
}

// conditioning is the text a window is decoded after (prompt) and forced
// to begin with (prefix).
type conditioning struct{ prompt, prefix []int }

// decodeAt decodes the window at seek in the options' window width. A
// short window is decoded greedily under the guard (shortWindowFailed); a
// 30 s one, or a short one that fails, with the temperature fallback. It
// returns the decoding and the encoder output it came from.
func (m *Model) decodeAt(ctx context.Context, d *decoder, ahead *lookahead, opt Options, width int, lang string, text conditioning, seek, size int) (*DecodeResult, *encoded, error) {
	enc, err := ahead.get(ctx, seek, size, width)
	if err != nil {
		return nil, nil, err
	}
	if width < WindowFrames {
		r, err := m.decodeShort(ctx, d, enc, opt, lang, text, size)
		if err != nil || r != nil {
			return r, enc, err
		}
		if opt.ShortOnly {
			return nil, nil, ErrShortWindowFailed
		}
		if enc, err = ahead.get(ctx, seek, size, WindowFrames); err != nil {
			return nil, nil, err
		}
	}
	r, err := m.decodeWithFallback(ctx, d, enc, opt, lang, text, seek)
	return r, enc, err
}

// decodeShort decodes a short window greedily under the guard
// (shortWindowFailed), and with Options.RetryUnprompted once more on the
// same encoder output without the prompt when it failed with one. It
// returns nil when the guard failed.
func (m *Model) decodeShort(ctx context.Context, d *decoder, enc *encoded, opt Options, lang string, text conditioning, size int) (*DecodeResult, error) {
	limit := shortTokenCap(size)
	tries := []conditioning{text}
	if opt.RetryUnprompted && len(text.prompt) > 0 {
		tries = append(tries, conditioning{prefix: text.prefix})
	}
	for _, c := range tries {
		r, err := m.decodeWindow(ctx, d, enc, DecodeOptions{
			Language: lang, Timestamps: true, Prompt: c.prompt, Prefix: c.prefix, MaxInitialTimestamp: 1.0, SampleLen: limit,
		})
		if err != nil || !shortWindowFailed(r, limit, opt) {
			return r, err
		}
	}
	return nil, nil
}

// ErrShortWindowFailed: with Options.ShortOnly, a short window failed the
// guard and was not decoded again in 30 s.
var ErrShortWindowFailed = errors.New("whisper: the short window failed the guard")

// shortTokenCap is the most tokens a short window of size frames may
// produce: 6 per second of audio + 10 (docs/MODELS.md). Real speech stays well
// below it; a window decoding a loop runs into it early instead of filling
// the decoder's 224 tokens.
func shortTokenCap(size int) int {
	return int(math.Ceil(6*float64(size)/FramesPerSecond)) + 10
}

// shortWindowFailed is the guard on a short window's greedy decoding: it
// ran into the token cap limit, or its text repeats (compression ratio
// above the threshold), which is how a model trained on 30 s windows goes
// wrong in a short one. A window the model calls probably silent fails
// too, so that the 30 s window, which the silence thresholds were tuned
// on, decides: a short one turned silence into confident text (" .") and
// skipped a 6-digit utterance as silence (dev set, BENCHMARKS.md).
func shortWindowFailed(r *DecodeResult, limit int, opt Options) bool {
	switch {
	case len(r.Tokens) >= limit:
		return true
	case opt.CompressionRatioThreshold > 0 && r.CompressionRatio > opt.CompressionRatioThreshold:
		return true
	}
	return !math.IsNaN(opt.NoSpeechThreshold) && r.NoSpeechProb > opt.NoSpeechThreshold
}

// silent is openai's no-speech rule: the model calls the window silent
// and its text is not likely enough to keep.
func silent(r *DecodeResult, opt Options) bool {
	return !math.IsNaN(opt.NoSpeechThreshold) && r.NoSpeechProb > opt.NoSpeechThreshold &&
		!(!math.IsNaN(opt.LogprobThreshold) && r.AvgLogprob > opt.LogprobThreshold)
}

// seekClips turns clip times into frame ranges as openai's clip_timestamps.
func seekClips(clips [][2]float64, content int) ([][2]int, error) {
	if len(clips) == 0 {
		return [][2]int{{0, content}}, nil
	}
	out := make([][2]int, 0, len(clips))
	for i, c := range clips {
		if !(c[0] >= 0 && c[1] > c[0]) || (i > 0 && c[0] < clips[i-1][1]) {
			return nil, fmt.Errorf("whisper: clip %d [%g, %g] is empty, negative or out of order", i, c[0], c[1])
		}
		s, e := int(math.Round(c[0]*FramesPerSecond)), min(content, int(math.Round(c[1]*FramesPerSecond)))
		if e > s {
			out = append(out, [2]int{s, e})
		}
	}
	if len(out) == 0 {
		return [][2]int{{content, content}}, nil
	}
	return out, nil
}

// decodeWithFallback retries a window at rising temperatures while its text
// looks like a repetition loop or is too unlikely, unless it is silence.
func (m *Model) decodeWithFallback(ctx context.Context, d *decoder, enc *encoded, opt Options, lang string, text conditioning, seek int) (*DecodeResult, error) {
	var r *DecodeResult
	for _, t := range opt.Temperatures {
		var err error
		r, err = m.decodeWindow(ctx, d, enc, DecodeOptions{
			Language: lang, Temperature: t, Timestamps: true, Prompt: text.prompt, Prefix: text.prefix,
			MaxInitialTimestamp: 1.0, Seed: uint64(seek), SampleLen: opt.MaxTokens,
		})
		if err != nil {
			return nil, err
		}
		fail := false
		if opt.CompressionRatioThreshold > 0 && r.CompressionRatio > opt.CompressionRatioThreshold {
			fail = true
		}
		lpOn := !math.IsNaN(opt.LogprobThreshold)
		if lpOn && r.AvgLogprob < opt.LogprobThreshold {
			fail = true
		}
		if !math.IsNaN(opt.NoSpeechThreshold) && r.NoSpeechProb > opt.NoSpeechThreshold && lpOn && r.AvgLogprob < opt.LogprobThreshold {
			fail = false // silence: no point retrying
		}
		if !fail {
			break
		}
	}
	return r, nil
}

func singleTimestampEnding(tokens []int, tb int) bool {
	n := len(tokens)
	return n >= 2 && tokens[n-2] < tb && tokens[n-1] >= tb
}

// segmentsOf cuts a window's tokens into segments at consecutive timestamp
// pairs and returns them with the next seek position (frames).
func (m *Model) segmentsOf(r *DecodeResult, timeOffset float64, seek, size int, segDur float64) ([]Segment, int) {
	tb := m.mc.Special.TimestampBegin
	toks := r.Tokens
	isTS := func(i int) bool { return toks[i] >= tb }
	var consecutive []int
	for i := 0; i+1 < len(toks); i++ {
		if isTS(i) && isTS(i+1) {
			consecutive = append(consecutive, i+1)
		}
	}
	single := singleTimestampEnding(toks, tb)
	newSeg := func(start, end float64, tk []int) Segment {
		var text []int
		for _, t := range tk {
			if t < m.mc.Special.EOT {
				text = append(text, t)
			}
		}
		return Segment{Start: start, End: end, Text: m.tok.Decode(text), Tokens: append([]int(nil), tk...),
			Temperature: r.Temperature, AvgLogprob: r.AvgLogprob, CompressionRatio: r.CompressionRatio, NoSpeechProb: r.NoSpeechProb}
	}
	var segs []Segment
	if len(consecutive) > 0 {
		slices := consecutive
		if single {
			slices = append(slices, len(toks))
		}
		last := 0
		for _, cur := range slices {
			sl := toks[last:cur]
			st := float64(sl[0]-tb) * TimePrecision
			en := float64(sl[len(sl)-1]-tb) * TimePrecision
			segs = append(segs, newSeg(timeOffset+st, timeOffset+en, sl))
			last = cur
		}
		if single {
			return segs, seek + size
		}
		return segs, seek + (toks[last-1]-tb)*2
	}
	dur := segDur
	lastTS := -1
	for _, t := range toks {
		if t >= tb {
			lastTS = t
		}
	}
	if lastTS >= 0 && lastTS != tb {
		dur = float64(lastTS-tb) * TimePrecision
	}
	segs = append(segs, newSeg(timeOffset, timeOffset+dur, toks))
	return segs, seek + size
}

func lastWordEnd(segs []Segment) (float64, bool) {
	for i := len(segs) - 1; i >= 0; i-- {
		if n := len(segs[i].Words); n > 0 {
			return segs[i].Words[n-1].End, true
		}
	}
	if len(segs) > 0 {
		return segs[len(segs)-1].End, true
	}
	return 0, false
}

// lookahead serves encoder outputs for windows (keyed by seek, size and
// width). Windows that start a clip
// do not depend on decoding, so with BatchSize > 1 the next few are encoded
// in one call; any other window is encoded when asked for.
type lookahead struct {
	m       *Model
	lm      *longMel
	clips   [][2]int
	content int
	width   int // of pre-encoded windows
	batch   int
	seek    int // the seek position of the decoding loop
	ready   map[[3]int]*encoded
	next    int // index of the next clip not yet pre-encoded
	last    *encoded
	lastKey [3]int
	spare   *encoded // the window before last, its tensors reused by the next encode
	total   int
}

func newLookahead(m *Model, lm *longMel, clips [][2]int, content, width, batch int) *lookahead {
	total := 0
	for _, c := range clips {
		total += c[1] - c[0]
	}
	return &lookahead{m: m, lm: lm, clips: clips, content: content, width: width, batch: max(batch, 1),
		seek: clips[0][0], ready: map[[3]int]*encoded{}, total: total}
}

func (a *lookahead) progress(f func(done, total int)) {
	if f == nil {
		return
	}
	done := 0
	for _, c := range a.clips {
		if a.seek >= c[1] {
			done += c[1] - c[0]
		} else if a.seek > c[0] {
			done += a.seek - c[0]
		}
	}
	f(min(done, a.total), a.total)
}

func (a *lookahead) get(ctx context.Context, seek, size, width int) (*encoded, error) {
	key := [3]int{seek, size, width}
	if a.last != nil && a.lastKey == key {
		return a.last, nil
	}
	if a.last != nil {
		a.spare.release()
		a.spare, a.last = a.last, nil
	}
	a.lastKey = key
	if e, ok := a.ready[key]; ok {
		delete(a.ready, key)
		a.last = e
		return e, nil
	}
	// Pre-encode clip-start windows from here on, batch at a time.
	var keys [][3]int
	var mels [][]float32
	// Only windows of one width share an encoder call: a guard's 30 s
	// re-encode goes alone.
	if a.batch > 1 && width == a.width {
		for a.next < len(a.clips) && a.clips[a.next][0] < seek {
			a.next++
		}
		for a.next < len(a.clips) && len(keys) < a.batch {
			c := a.clips[a.next]
			k := [3]int{c[0], min(a.width, a.content-c[0], c[1]-c[0]), a.width}
			a.next++
			if k == key {
				continue
			}
			mel, err := a.lm.window(k[0], k[1], k[2])
			if err != nil {
				return nil, err
			}
			keys, mels = append(keys, k), append(mels, mel)
		}
	}
	mel, err := a.lm.window(seek, size, width)
	if err != nil {
		return nil, err
	}
	if len(mels) == 0 {
		e, err := a.m.encodeInto(ctx, mel, a.spare)
		a.spare = nil // reused, or released on failure
		if err != nil {
			return nil, err
		}
		a.last = e
		return e, nil
	}
	encs, err := a.m.encode(append([][]float32{mel}, mels...)...)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		a.ready[k] = encs[i+1]
	}
	a.last = encs[0]
	return encs[0], nil
}

func (a *lookahead) release() {
	a.last.release()
	a.spare.release()
	for _, e := range a.ready {
		e.release()
	}
}
