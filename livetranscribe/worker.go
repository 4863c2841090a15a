package livetranscribe

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/whisper"
)

// minDecodeSeconds: less audio than this holds no word worth decoding.
const minDecodeSeconds = 0.1

// worker turns the Push side's jobs into partial and final turns. It owns
// the recognition state, so it needs no locks but the hypothesis it shares.
type worker struct {
	s     *Session
	tl    *timeline
	order int      // the next turn's Order
	cur   curTurn  // the open turn as recognised so far
	held  []*final // finals with words the diarizer has not decided yet
	// finals are every final with words, for the end-of-stream revision.
	finals []*final
	// history is the latest final words, the prompt of the next decodes.
	history []string
	// waitingSince is when a partial first waited for a decoder since the
	// session's last partial decode (zero: none waiting).
	waitingSince time.Time
}

// curTurn is the recognition state of the open turn.
type curTurn struct {
	id        int
	order     int     // -1 until the turn is first reported
	committed []Word  // words two consecutive decodes agreed on (final)
	prev      []Word  // the last decode
	probe     decoded // the latest probe, which a final of its audio reuses
	lastText  string  // the text of the last partial sent
}

// decoded is a probe's decode (the final's window and prompt) and the
// audio it heard.
type decoded struct {
	start int64
	n     int
	words []Word
}

// ready: d is the final of job j decoded ahead, by the probe early in the
// pause that ended the turn. Partials decoded after the probe (speech went
// on, then a speaker change split the turn at the probe's end) do not
// replace it.
func (d decoded) ready(j job) bool {
	return d.n > 0 && d.start == j.start && d.n == len(j.samples)
}

// final is a sent final turn and which of its words have provisional
// speakers.
type final struct {
	turn        Turn
	provisional []bool
}

func newWorker(s *Session) *worker {
	return &worker{s: s, tl: newTimeline(), cur: curTurn{id: -1, order: -1}}
}

func (w *worker) run(ctx context.Context) {
	for {
		j, ok := w.s.jobs.pop(ctx)
		if !ok {
			return
		}
		var err error
		switch j.kind {
		case jobPartial:
			err = w.partial(ctx, j)
		case jobFinal:
			err = w.final(ctx, j)
		case jobSpeakers:
			w.tl.add(j.speakers, j.decided)
			err = w.revise(ctx)
		case jobClear:
			if w.cur.id == j.turn {
				w.cur = curTurn{id: -1, order: -1}
			}
		case jobClose:
			w.closeRevision(j.revised)
			w.tl.add(nil, math.Inf(1))
			w.revise(ctx)
			return
		}
		if err != nil {
			return // ctx ended: the session is being torn down
		}
	}
}

// startTurn resets the recognition state when a job is about a new turn.
func (w *worker) startTurn(id int) {
	if w.cur.id != id {
		w.cur = curTurn{id: id, order: -1}
	}
}

// partial decodes the open turn so far, extends the committed words by what
// this decode and the last agree on, and reports the hypothesis.
//
// A probe (early in a pause) is the turn's final decoded ahead: in the
// finals' window and not cancelled by the final it anticipates, which then
// reuses it. So a turn's final text is ready about when the pause is long
// enough to end it. Like any partial it waits behind finals for a decoder,
// and gives up waiting when newer work arrives (acquire).
func (w *worker) partial(ctx context.Context, j job) error {
	w.startTurn(j.turn)
	short := !j.probe || w.s.e.cfg.ShortFinals
	dctx, done := w.s.jobs.decodePartial(ctx, j.probe)
	// A partial is forced to begin with the turn's committed words: they
	// are final whatever it says, and fed at once they cost one pass
	// instead of a decoder step per token (short-window partials 11–19 %
	// less CPU on the capacity files, WER unchanged; BENCHMARKS.md,
	// session 15). Probes are the final's decode, as batch's: not forced.
	var prefix []Word
	if !j.probe {
		prefix = w.cur.committed
	}
	words, err := w.decode(dctx, j, prefix, short, false)
	if err == nil && truncated(words, w.cur.prev) {
		words = w.continueDecode(dctx, j, words)
	}
	done()
	if err != nil && ctx.Err() != nil {
		return err
	} else if err != nil {
		return nil // made stale by newer work, or a failed short window
	}
	end := float64(j.start+int64(len(j.samples))) / SampleRate
	w.s.hyp.set(j.turn, j.start+int64(len(j.samples)), endsSentence(words))
	if j.probe {
		w.cur.probe = decoded{start: j.start, n: len(j.samples), words: words}
	}
	w.cur.committed = agree(w.cur.committed, w.cur.prev, words, end-agreeMargin)
	w.cur.prev = words
	if !w.s.opt.Partials || j.probe && len(words) == 0 {
		return nil
	}
	t := w.turnOf(merge(w.cur.committed, words, false))
	if t.Text == "" || t.Text == w.cur.lastText {
		return nil
	}
	w.cur.lastText = t.Text
	if w.cur.order < 0 {
		w.cur.order = w.nextOrder()
	}
	t.Order = w.cur.order
	return w.s.emit(ctx, Event{Kind: Partial, Time: t.End, Turn: &t})
}

// final decodes an ended turn; its words keep what was committed and take
// the rest from this decode.
func (w *worker) final(ctx context.Context, j job) error {
	w.startTurn(j.turn)
	var words []Word
	switch {
	case j.silent:
	case w.cur.probe.ready(j):
		words = w.cur.probe.words
	default:
		var err error
		if words, err = w.decode(ctx, j, nil, w.s.e.cfg.ShortFinals, true); err != nil {
			return err
		}
		if truncated(words, heardBefore(w.cur.prev, j)) {
			words = w.continueDecode(ctx, j, words)
		}
	}
	words = merge(w.cur.committed, words, true)
	reported := w.cur.order >= 0
	order := w.cur.order
	w.cur = curTurn{id: -1, order: -1}
	if len(words) == 0 && !j.committed && !reported {
		return nil // a noise the VAD took for speech
	}
	if order < 0 {
		order = w.nextOrder()
	}
	for _, x := range words {
		w.history = append(w.history, x.Text)
	}
	if n := len(w.history); n > 2*promptWords {
		w.history = append(w.history[:0:0], w.history[n-promptWords:]...)
	}
	f := &final{turn: w.turnOf(words)}
	f.turn.Order, f.turn.Committed, f.turn.EndOfTurnConfidence = order, j.committed, j.confidence
	if len(words) == 0 {
		f.turn.Start = float64(j.start) / SampleRate
		f.turn.End = float64(j.start+int64(len(j.samples))) / SampleRate
	}
	f.provisional = w.label(&f.turn)
	if hasTrue(f.provisional) {
		w.held = append(w.held, f)
	}
	if len(words) > 0 {
		w.finals = append(w.finals, f)
	}
	t := f.turn
	t.Words = append([]Word(nil), t.Words...)
	return w.s.emit(ctx, Event{Kind: Final, Time: t.End, Turn: &t})
}

func (w *worker) nextOrder() int {
	w.order++
	return w.order - 1
}

// decode runs Whisper on a job's samples, its text forced to begin with
// prefix (words of the same audio), and returns its words in stream time,
// prefix included. A partial or probe gives up waiting for a decoder when
// newer work for the session arrives (errStale); a partial whose short
// window fails its guard is skipped (whisper.ErrShortWindowFailed). The
// only other error is ctx's: a failed decode yields no words rather than a
// dead session.
func (w *worker) decode(ctx context.Context, j job, prefix []Word, short, wait bool) ([]Word, error) {
	if float64(len(j.samples)) < minDecodeSeconds*SampleRate {
		return nil, nil
	}
	if err := w.acquire(ctx, wait); err != nil {
		return nil, err
	}
	defer w.s.e.decoders.release()
	if j.probe {
		w.s.jobs.decoderGranted()
	}
	seconds := float64(len(j.samples)) / SampleRate
	// A partial (short, not waiting) that fails the short window's guard
	// is skipped rather than decoded again in 30 s: the next partial comes
	// with more audio, and the 30 s encoder costs 4–5 times the short one.
	// A prompt can drag Whisper into repeating it (on sim06, a turn after
	// a digit string failed every short window with the digits as its
	// prompt and passed every one without): a failed short window is heard
	// alone on the same encoder output (RetryUnprompted), and a decode that
	// holds more words than its audio can is heard alone, the history
	// forgotten.
	opt := whisper.ClipOptions{Language: w.s.opt.Language, Prompt: w.prompt(j.preceding), Prefix: text(prefix),
		Short: short, ShortOnly: short && !wait && !j.probe, RetryUnprompted: true, WordTimestamps: true}
	res, err := w.s.e.recognise(ctx, j.samples, opt)
	if opt.Prompt != "" && err == nil && !plausible(len(res), seconds) {
		w.history = nil
		opt.Prompt = ""
		res, err = w.s.e.recognise(ctx, j.samples, opt)
	}
	if errors.Is(err, whisper.ErrShortWindowFailed) {
		return nil, err
	} else if err != nil {
		return nil, ctx.Err()
	}
	if !plausible(len(res), seconds) {
		return nil, nil // a loop, not speech: report nothing rather than it
	}
	offset := float64(j.start) / SampleRate
	words := make([]Word, 0, len(res))
	res = res[:loopStart(res)]
	res = res[:heardUntil(res)]
	if wait || j.probe {
		res = res[:beforeEnd(res, seconds)]
	}
	for _, x := range res {
		words = append(words, Word{Text: strings.TrimSpace(x.Text), Start: offset + x.Start,
			End: offset + x.End, Confidence: x.Probability})
	}
	return words, nil
}

// acquire waits for one of the engine's decoders. A final waits until it
// has one. A partial or probe waits in line from when its session first
// asked since its last decode, so a newer partial replacing a waiting one
// keeps its place, and leaves the line when newer work is queued.
func (w *worker) acquire(ctx context.Context, final bool) error {
	q := w.s.jobs
	if final {
		return w.s.e.decoders.acquire(ctx, true, time.Now(), nil, nil)
	}
	if w.waitingSince.IsZero() {
		w.waitingSince = time.Now()
	}
	err := w.s.e.decoders.acquire(ctx, false, w.waitingSince, q.ready, q.superseded)
	if err == nil {
		w.waitingSince = time.Time{}
	}
	return err
}

// truncatedBy is how much earlier than the last decode of the same turn a
// decode may end before it counts as stopped early: more than a word's
// timing jitter between decodes (sameWord in eval_test.go is 0.3 s).
const truncatedBy = 1.0

// truncated reports whether a decode of the open turn ended well before the
// previous one did. A turn's audio only grows, so such a decode heard less
// than was there: Whisper ended the text too soon, which the short window
// does (on pyannote_sample four of twelve partials of one 10 s turn were a
// single "Hello." where the decodes before and after had the whole turn).
func truncated(words, prev []Word) bool {
	if len(prev) == 0 {
		return false
	}
	end := 0.0
	if len(words) > 0 {
		end = words[len(words)-1].End
	}
	return end < prev[len(prev)-1].End-truncatedBy
}

// heardBefore is the words of an earlier decode of the turn that end
// inside job j's audio: a turn split at a speaker change ends before what
// its partials heard of the next speaker.
func heardBefore(words []Word, j job) []Word {
	end := float64(j.start+int64(len(j.samples))) / SampleRate
	i := len(words)
	for i > 0 && words[i-1].End > end {
		i--
	}
	return words[:i]
}

// continueDecode decodes the audio after a truncated decode's last word,
// with its words as context, and appends what it hears: Whisper's own
// long-form loop likewise seeks to where the text ended and decodes on.
//
// A final's continuation is decoded as the final was (its window, waiting
// for a decoder): on sim03 a 14 s turn's 30 s decode stopped 6 s before
// the speech did, and the final lost those words (BENCHMARKS.md, session
// 15). A partial's or probe's goes in the short window.
func (w *worker) continueDecode(ctx context.Context, j job, words []Word) []Word {
	from := j.start
	if len(words) > 0 {
		end := int64(math.Round(words[len(words)-1].End * SampleRate))
		from = min(max(end, j.start), j.start+int64(len(j.samples)))
	}
	k := j
	k.start, k.samples, k.preceding = from, j.samples[from-j.start:], words
	final := j.kind == jobFinal
	more, err := w.decode(ctx, k, nil, !final || w.s.e.cfg.ShortFinals, final)
	if err != nil {
		return words
	}
	return append(words, more...)
}

// loopRepeats is how many copies in a row of a run of n words are Whisper
// looping, not speech: four of a word or pair ("4, 4, 4, 4, …" after the
// real digits), three of three words ("8, 9, 4, 8, 9, 4, 8, 9, 4, …", seen
// on sim07 in a short window).
var loopRepeats = [...]int{1: 4, 2: 4, 3: 3}

// loopStart is where a decode's words start repeating themselves (the
// second of the consecutive copies of one run), or len(words) when they do
// not: the words before the loop are kept.
func loopStart(words []whisper.Word) int {
	for n := 1; n < len(loopRepeats); n++ {
		k := loopRepeats[n]
		for i := 0; i+n*k <= len(words); i++ {
			if repeats(words, i, n, k) {
				return i + n
			}
		}
	}
	return len(words)
}

// repeats reports whether words[i:i+n] occurs k times in a row from i.
func repeats(words []whisper.Word, i, n, k int) bool {
	for r := 1; r < k; r++ {
		for m := range n {
			if norm(words[i+m].Text) != norm(words[i+r*n+m].Text) {
				return false
			}
		}
	}
	return true
}

// minWordSeconds is the shortest a spoken word lasts: openai-whisper's
// word anomaly score (word_anomaly_score in its transcribe.py, used to skip
// hallucinated segments) counts a word shorter than this against it.
const minWordSeconds = 0.133

// heardUntil is where a decode's words stop being heard: a run of two or
// more words at its end, each too short to have been spoken, is Whisper
// going on past the audio. Repeating a clip's digits, it aligns the repeat
// into the clip's last instant: on sim06 "…, 2, 0. 1, 2, 4, 2, 0." with the
// second "1, 2, 4, 2, 0." all at 34.21–34.25 s. One short word at the end
// may be a word cut by the clip, and is kept.
func heardUntil(words []whisper.Word) int {
	i := len(words)
	for i > 0 && words[i-1].End-words[i-1].Start < minWordSeconds {
		i--
	}
	if len(words)-i < 2 {
		return len(words)
	}
	return i
}

// endSteps: the last encoder frames (whisper.TimePrecision each) of a
// clip, where Whisper's alignment puts a word it has no audio for (sim07's
// repeated "Five." began two frames before its clip's end).
const endSteps = 5

// beforeEnd drops a last word of no duration (under one alignment step)
// that begins in the clip's last endSteps frames: Whisper gave it no audio
// and none follows it, so it was not heard but repeated into the clip's
// end ("…, nine, five. Five." on sim07, the second "Five." at 45.20–45.20 s
// of a clip ending at 45.24 s; sim06's "9." at the stream's end). A word
// the clip cut has audio inside it and is kept (heardUntil keeps one short
// last word for that reason). Finals and probes only: a partial's end is
// the speech going on, where a word may begin.
func beforeEnd(words []whisper.Word, seconds float64) int {
	n := len(words)
	if n > 0 && words[n-1].End-words[n-1].Start < whisper.TimePrecision &&
		words[n-1].Start >= seconds-endSteps*whisper.TimePrecision {
		return n - 1
	}
	return n
}

// maxWordsPerSecond bounds speech: people say at most about 4 words a
// second (fast speech, digit strings), so a decode with far more words
// than its audio can hold is Whisper looping, however its tokens compress.
const maxWordsPerSecond = 6

func plausible(words int, seconds float64) bool {
	return float64(words) <= maxWordsPerSecond*seconds+3
}

// recognise decodes one clip of at most 30 s.
func (e *Engine) recognise(ctx context.Context, samples []float32, opt whisper.ClipOptions) ([]whisper.Word, error) {
	decode := func() (*whisper.Result, error) { return e.asr.TranscribeClip(ctx, samples, opt) }
	var r *whisper.Result
	var err error
	if e.pace == nil {
		r, err = decode()
	} else {
		r, err = e.pace(ctx, samples, opt, decode)
	}
	if err != nil {
		return nil, err
	}
	return r.Words(), nil
}

// promptWords is how much of the session's earlier text conditions each
// decode: as batch transcription conditions each window on the text before
// it, so a turn of digits is read as digits.
const promptWords = 40

// prompt is the client's prompt followed by the session's latest final
// words and then the words of the open turn before the clip (preceding).
func (w *worker) prompt(preceding []Word) string {
	h := slices.Clip(w.history)
	for _, x := range preceding {
		h = append(h, x.Text)
	}
	if len(h) > promptWords {
		h = h[len(h)-promptWords:]
	}
	return strings.TrimSpace(w.s.opt.Prompt + " " + strings.Join(h, " "))
}

// turnOf builds a turn from words (times, text); labels come from label.
func (w *worker) turnOf(words []Word) Turn {
	t := Turn{Words: words}
	if len(words) > 0 {
		t.Start, t.End = words[0].Start, words[len(words)-1].End
	}
	t.Text = text(words)
	if w.s.diar != nil {
		w.label(&t)
	}
	return t
}

// label gives each word the speaker the diarizer has (or, provisionally,
// most likely will have) inside its span, and the turn its dominant speaker.
func (w *worker) label(t *Turn) []bool {
	if w.s.diar == nil {
		return nil
	}
	prov := make([]bool, len(t.Words))
	for i := range t.Words {
		t.Words[i].Speaker, prov[i] = w.tl.speakerOf(t.Words[i].Start, t.Words[i].End)
	}
	fillUnheard(t.Words)
	t.Speaker = dominantSpeaker(t.Words)
	return prov
}

// fillUnheard gives a word the diarizer heard nobody near (speakerOf's
// "") the speaker of the nearest labelled word of its turn, earlier words
// first: Whisper heard it, so someone spoke, and a turn is one stretch of
// speech in which the diarizer saw no one else begin (on sim07 the revised
// timeline left a 0.5 s "four" more than a second from any speech).
func fillUnheard(words []Word) {
	heard := make([]string, len(words))
	for i, x := range words {
		heard[i] = x.Speaker
	}
	for i := range words {
		for d := 1; words[i].Speaker == "" && d < len(words); d++ {
			if j := i - d; j >= 0 && heard[j] != "" {
				words[i].Speaker = heard[j]
			} else if j := i + d; j < len(words) && heard[j] != "" {
				words[i].Speaker = heard[j]
			}
		}
	}
}

// minLabelledSeconds: a turn with less speech than this gets no speaker
// label (AssemblyAI's UNKNOWN): too little audio to tell voices apart.
const minLabelledSeconds = 1.0

func dominantSpeaker(words []Word) string {
	if len(words) == 0 || words[len(words)-1].End-words[0].Start < minLabelledSeconds {
		return ""
	}
	dur := map[string]float64{}
	best := ""
	for _, x := range words {
		if x.Speaker == "" {
			continue
		}
		dur[x.Speaker] += max(x.End-x.Start, 0.01)
		if best == "" || dur[x.Speaker] > dur[best] || dur[x.Speaker] == dur[best] && x.Speaker < best {
			best = x.Speaker
		}
	}
	return best
}

// revise relabels held finals now that the diarizer decided more, and
// reports those whose labels changed.
func (w *worker) revise(ctx context.Context) error {
	var changed []Turn
	kept := w.held[:0]
	for _, f := range w.held {
		before := labels(f.turn)
		f.provisional = w.label(&f.turn)
		if labels(f.turn) != before {
			t := f.turn
			t.Words = append([]Word(nil), t.Words...)
			changed = append(changed, t)
		}
		if hasTrue(f.provisional) {
			kept = append(kept, f)
		}
	}
	clear(w.held[len(kept):])
	w.held = kept
	if len(changed) == 0 {
		return nil
	}
	return w.s.emit(ctx, Event{Kind: Revision, Time: w.tl.decided, Revised: changed})
}

// closeRevision takes the diarizer's end-of-stream re-clustering
// (live.Session.Revise) as what it decided, so that the last revise
// relabels every final turn it changes, not only the provisional ones.
// A speaker it gives less speech in the whole session than a turn needs
// for a label (minLabelledSeconds: too little audio to tell voices apart)
// is no speaker of its own: its words go to the nearest other speech. On
// sim07_digits_2spk the revision kept a third speaker for 0.96 s of one
// voice's turn end (BENCHMARKS.md, issue 17).
func (w *worker) closeRevision(revised []live.Event) {
	if revised == nil {
		return
	}
	w.tl = newTimeline()
	w.tl.add(revised, math.Inf(1))
	w.tl.dropBrief(minLabelledSeconds)
	w.held = append(w.held[:0:0], w.finals...)
}

func labels(t Turn) string {
	var b strings.Builder
	b.WriteString(t.Speaker)
	for _, x := range t.Words {
		b.WriteString("|" + x.Speaker)
	}
	return b.String()
}

func hasTrue(xs []bool) bool {
	for _, x := range xs {
		if x {
			return true
		}
	}
	return false
}

// endsSentence reports whether a decode ends with sentence-final
// punctuation: Whisper punctuates where the speaker's prosody closes a
// sentence, the cue for ending a turn at the shorter silence.
func endsSentence(words []Word) bool {
	if len(words) == 0 {
		return false
	}
	last := words[len(words)-1].Text
	return strings.HasSuffix(last, ".") || strings.HasSuffix(last, "?") || strings.HasSuffix(last, "!")
}

// norm is a word as agreement compares it: lower case, letters and digits.
func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// agreeMargin: a word must end this long before the end of the audio both
// decodes heard to be committed. Near the edge a word lacks its right
// context (it may be cut mid-way), and two decodes can agree on the same
// wrong guess.
const agreeMargin = 1.0

// agree extends committed by the words the previous and the current decode
// share after it and that end before horizon (local agreement: a word two
// decodes of growing audio agree on, heard in full, will not change).
// committed never shrinks.
func agree(committed, prev, cur []Word, horizon float64) []Word {
	n := len(committed)
	if !hasPrefix(prev, committed) || !hasPrefix(cur, committed) {
		return committed
	}
	for n < len(prev) && n < len(cur) && norm(prev[n].Text) == norm(cur[n].Text) && cur[n].End <= horizon {
		n++
	}
	out := append([]Word(nil), committed...)
	for _, x := range cur[len(committed):n] {
		x.Final = true
		out = append(out, x)
	}
	return out
}

func hasPrefix(words, prefix []Word) bool {
	if len(words) < len(prefix) {
		return false
	}
	for i, x := range prefix {
		if norm(words[i].Text) != norm(x.Text) {
			return false
		}
	}
	return true
}

// merge puts a decode's words after the committed ones: where the decode
// starts with them, its remaining words follow; otherwise the words that
// start after the last committed word. final marks every word final.
func merge(committed, decoded []Word, final bool) []Word {
	out := append([]Word(nil), committed...)
	rest := decoded
	if hasPrefix(decoded, committed) {
		rest = decoded[len(committed):]
	} else if len(committed) > 0 {
		end := committed[len(committed)-1].End
		rest = rest[:0:0]
		for _, x := range decoded {
			if x.Start >= end-0.05 {
				rest = append(rest, x)
			}
		}
	}
	for _, x := range rest {
		x.Final = final
		out = append(out, x)
	}
	return out
}

// text is words as one string, as Whisper's decoding spelled them.
func text(words []Word) string {
	ts := make([]string, len(words))
	for i, x := range words {
		ts[i] = x.Text
	}
	return strings.Join(ts, " ")
}
