package livetranscribe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/transcribe"
	"github.com/whospoke/whospoke/whisper"
)

// TestEvalLive measures live transcription on the dev files with word
// references, side by side with batch transcription of the same files, at
// real-time pace (BENCHMARKS.md, "Live transcription"). It is slow, so it
// runs only when asked:
//
//	WHOSPOKE_LIVE_EVAL=1 go test ./livetranscribe/ -run EvalLive -v -timeout 30m
//
// WHOSPOKE_LIVE_EVAL=virtual measures accuracy on a virtual clock instead
// (see waitIdle): the same on every run, whatever the load.
// WHOSPOKE_LIVE_EVAL=paced streams on a paced virtual clock (pacedClock):
// each decode lasts the CPU time it took, times WHOSPOKE_LIVE_PACE
// (default 1), so the decodes are those of real time on an idle machine.
func TestEvalLive(t *testing.T) {
	if os.Getenv("WHOSPOKE_LIVE_EVAL") == "" {
		t.Skip("set WHOSPOKE_LIVE_EVAL=1 to run the live transcription evaluation")
	}
	e := testEngine(t)
	dev := testenv.DevSet(t)
	files := map[string]func() []eval.TimedWord{
		"sim/sim07_digits_2spk": func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "sim/sim07_digits_2spk.words.tsv")) },
		"sim/sim06_digits_3spk": func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "sim/sim06_digits_3spk.words.tsv")) },
		"real/pyannote_sample":  func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "real/pyannote_sample.stm")) },
	}
	names := []string{"sim/sim07_digits_2spk", "sim/sim06_digits_3spk", "real/pyannote_sample"}
	var finalLat, partialLat []float64
	fmt.Println("| file | live WER | batch WER | live attribution (matched) | after revisions | batch attribution (matched) | finals | final latency p50 / p95 | partial latency p95 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, name := range names {
		if !chosen(name) {
			continue
		}
		path := filepath.Join(dev, name+".wav")
		samples := loadSamples(t, path)
		ref := files[name]()
		var timed timedRun
		if os.Getenv("WHOSPOKE_LIVE_EVAL") == "paced" {
			opt := Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true}
			timed = runPaced(t, e, opt, samples, &pacedClock{scale: paceScale(t)})
		} else {
			timed = runTimed(t, e, samples)
		}
		liveHyp, batchHyp := finalWords(timed.events), batchWords(t, path)
		logFinals(t, timed)
		logErrors(t, ref, timed)
		live, batch := eval.ScoreTranscript(ref, liveHyp), eval.ScoreTranscript(ref, batchHyp)
		liveAttr, batchAttr := eval.ScoreAttribution(ref, liveHyp), eval.ScoreAttribution(ref, batchHyp)
		revisedAttr := eval.ScoreAttribution(ref, revisedWords(timed.events))
		logMisattributed(t, revisedAttr)
		fl, pl := timed.latencies()
		logSlowWords(t, timed)
		finalLat, partialLat = append(finalLat, fl...), append(partialLat, pl...)
		fmt.Printf("| %s | %.1f %% | %.1f %% | %.1f %% (%.0f %%) | %.1f %% | %.1f %% (%.0f %%) | %d | %.2f / %.2f s | %.2f s |\n", filepath.Base(name),
			100*live.WER, 100*batch.WER, 100*liveAttr.Accuracy(), 100*liveAttr.MatchedShare(), 100*revisedAttr.Accuracy(),
			100*batchAttr.Accuracy(), 100*batchAttr.MatchedShare(), len(fl),
			pct(fl, 50), pct(fl, 95), pct(pl, 95))
	}
	fmt.Printf("all finals: latency p50 %.2f s, p95 %.2f s (n=%d); partials p95 %.2f s (n=%d)\n",
		pct(finalLat, 50), pct(finalLat, 95), len(finalLat), pct(partialLat, 95), len(partialLat))
}

// paceScale is WHOSPOKE_LIVE_PACE: how long a decode lasts on the paced
// clock per CPU-second it took (default 1).
func paceScale(t *testing.T) float64 {
	v := os.Getenv("WHOSPOKE_LIVE_PACE")
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		t.Fatalf("WHOSPOKE_LIVE_PACE=%q: want a number ≥ 0", v)
	}
	return f
}

// timedRun is a session streamed at real-time pace: its events and when
// each arrived, in seconds since the first sample was pushed.
type timedRun struct {
	events []Event
	at     []float64
}

// runTimed may run on any goroutine: it reports failures with t.Error.
func runTimed(t testing.TB, e *Engine, samples []float32) timedRun {
	t.Helper()
	s, err := e.NewSession(Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true})
	if err != nil {
		t.Error(err)
		return timedRun{}
	}
	var r timedRun
	t0 := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range s.Events() {
			r.events = append(r.events, ev)
			r.at = append(r.at, time.Since(t0).Seconds())
		}
	}()
	ctx := context.Background()
	virtual := os.Getenv("WHOSPOKE_LIVE_EVAL") == "virtual"
	for i, off := 0, 0; off < len(samples); i, off = i+1, off+1600 {
		if virtual {
			waitIdle(s)
		} else {
			time.Sleep(time.Until(t0.Add(time.Duration(i) * 100 * time.Millisecond)))
		}
		if err := s.Push(ctx, samples[off:min(off+1600, len(samples))]); err != nil {
			t.Error(err)
			break
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Error(err)
	}
	<-done
	return r
}

// waitIdle waits until the session's worker has nothing queued and no
// decode running, twice in a row. With WHOSPOKE_LIVE_EVAL=virtual the
// evaluation feeds audio only then: every decode finishes before the next
// frame, as on an infinitely fast machine, so accuracy does not depend on
// the machine's load (latencies then mean nothing).
func waitIdle(s *Session) {
	for quiet := 0; quiet < 2; {
		time.Sleep(2 * time.Millisecond)
		s.jobs.mu.Lock()
		n := len(s.jobs.jobs)
		s.jobs.mu.Unlock()
		if n == 0 && s.e.decoders.idle() {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// latencies: for each final ended by silence or a speaker change (not by
// the end of the stream), the time from its last word's end (the audio was
// pushed then) to its arrival; for each final word, from its end to the
// first partial or final of its turn holding it (same text, start within
// sameWord: decodes of growing audio move a word's times a little).
func (r timedRun) latencies() (finals, partials []float64) {
	end := 0.0
	for _, e := range r.events {
		if e.Turn != nil {
			end = max(end, e.Turn.End)
		}
	}
	for i, e := range r.events {
		if e.Kind != Final || len(e.Turn.Words) == 0 || e.Turn.End >= end-0.5 {
			continue
		}
		finals = append(finals, r.at[i]-e.Turn.End)
		for _, w := range e.Turn.Words {
			partials = append(partials, r.firstSeen(e.Turn.Order, w, i)-w.End)
		}
	}
	return finals, partials
}

// sameWord: how far two decodes' times of one word may differ.
const sameWord = 0.3

// sameText: two spellings of one word as the scorer reads them ("4" and
// "four" are the same word to a reader of captions and to the WER).
func sameText(a, b string) bool {
	return slices.Equal(eval.NormaliseWords(a), eval.NormaliseWords(b))
}

// firstSeen is when word w of turn order first arrived, in a partial or in
// its final (event index last).
func (r timedRun) firstSeen(order int, w Word, last int) float64 {
	for i, e := range r.events[:last] {
		if e.Kind != Partial || e.Turn.Order != order {
			continue
		}
		for _, x := range e.Turn.Words {
			if sameText(x.Text, w.Text) && math.Abs(x.Start-w.Start) <= sameWord {
				return r.at[i]
			}
		}
	}
	return r.at[last]
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

var (
	pipelineOnce sync.Once
	pipeline     *diarize.Pipeline
	pipelineErr  error
)

// batchWords is `whospoke transcribe` on the file: the offline diarization,
// then Whisper with the default mode.
func batchWords(t testing.TB, path string) []eval.TimedWord {
	t.Helper()
	dir := testenv.ModelsDir("whisper-tiny.en")
	pipelineOnce.Do(func() { pipeline, pipelineErr = diarize.New(diarize.DefaultConfig(dir).WithThreads(2)) })
	if pipelineErr != nil {
		t.Fatal(pipelineErr)
	}
	ctx := context.Background()
	a, err := audio.Open(ctx, path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := pipeline.Diarize(ctx, a, diarize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transcribe.Transcribe(ctx, shared.asr, a, res.Exclusive, transcribe.Options{Activity: res.Diarization})
	if err != nil {
		t.Fatal(err)
	}
	var ws []eval.TimedWord
	for _, w := range tr.Words {
		ws = append(ws, eval.TimedWord{Start: w.Start, End: w.End, Text: w.Text, Speaker: w.Speaker})
	}
	return ws
}

// TestLiveCapacity runs N sessions at once, each on its own dev recording at
// real-time pace, and reports their latencies (BENCHMARKS.md):
//
//	WHOSPOKE_LIVE_CAPACITY=4,8,10 go test ./livetranscribe/ -run LiveCapacity -v -timeout 30m
func TestLiveCapacity(t *testing.T) {
	v := os.Getenv("WHOSPOKE_LIVE_CAPACITY")
	if v == "" {
		t.Skip("set WHOSPOKE_LIVE_CAPACITY=N[,N…] to measure concurrent sessions")
	}
	e := testEngine(t)
	dev := testenv.DevSet(t)
	var clips [][]float32
	var refs [][]eval.TimedWord // the clip's reference words, where dev has them
	for _, f := range []string{"sim/sim01_2spk", "sim/sim02_3spk", "sim/sim03_4spk", "sim/sim04_5spk",
		"sim/sim05_6spk", "sim/sim06_digits_3spk", "sim/sim07_digits_2spk", "real/ami_seriously_mixture"} {
		s := loadSamples(t, filepath.Join(dev, f+".wav"))
		clips = append(clips, s[:min(len(s), 60*SampleRate)])
		refs = append(refs, clipWords(t, filepath.Join(dev, f+".words.tsv"), 60))
	}
	fmt.Println("| sessions | finals | final latency p50 / p95 | partial latency p95 | WER sim06 + sim07 | CPU per session-second | 30 s / short decodes (CPU-s) | peak RSS | Go heap peak |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	calls := &callCount{}
	e.pace = calls.decode
	defer func() { e.pace = nil }()
	for _, ns := range strings.Split(v, ",") {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 {
			t.Fatalf("bad session count %q", ns)
		}
		var mu sync.Mutex
		var fl, pl []float64
		var errs, words int
		var wg sync.WaitGroup
		cpu0, audio := cpuSeconds(), 0.0
		calls.reset()
		heap := watchHeap()
		for i := range n {
			audio += float64(len(clips[i%len(clips)])) / SampleRate
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := runTimed(t, e, clips[i%len(clips)])
				if n == 1 {
					logFinals(t, r)
				}
				f, p := r.latencies()
				score := eval.ScoreTranscript(refs[i%len(clips)], finalWords(r.events))
				mu.Lock()
				fl, pl = append(fl, f...), append(pl, p...)
				if refs[i%len(clips)] != nil {
					errs, words = errs+score.Errors, words+score.RefWords
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		heap.stop()
		fmt.Printf("| %d | %d | %.2f / %.2f s | %.2f s | %.1f %% (%d words) | %.3f s | %s | %s | %d MiB |\n", n, len(fl), pct(fl, 50), pct(fl, 95), pct(pl, 95),
			100*float64(errs)/float64(max(words, 1)), words, (cpuSeconds()-cpu0)/audio, calls, peakRSS(), heap.peak()>>20)
	}
}

// callCount is a pace hook (Engine.pace) that runs each Whisper call at
// once and counts the calls and their thread CPU by window: where a
// session's CPU goes at capacity.
type callCount struct {
	mu            sync.Mutex
	full, short   int
	cFull, cShort float64
}

func (c *callCount) decode(_ context.Context, _ []float32, opt whisper.ClipOptions,
	run func() (*whisper.Result, error)) (*whisper.Result, error) {
	var r *whisper.Result
	var err error
	cpu := threadCPU(func() { r, err = run() })
	c.mu.Lock()
	defer c.mu.Unlock()
	if opt.Short {
		c.short, c.cShort = c.short+1, c.cShort+cpu
	} else {
		c.full, c.cFull = c.full+1, c.cFull+cpu
	}
	return r, err
}

func (c *callCount) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.full, c.short, c.cFull, c.cShort = 0, 0, 0, 0
}

func (c *callCount) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d (%.1f) / %d (%.1f)", c.full, c.cFull, c.short, c.cShort)
}

// clipWords reads the reference words of a recording's first seconds (nil
// when the file does not exist): the words that end inside them.
func clipWords(t testing.TB, path string, seconds float64) []eval.TimedWord {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var ws []eval.TimedWord
	for _, w := range refWords(t, path) {
		if w.End <= seconds {
			ws = append(ws, w)
		}
	}
	return ws
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS is the process's peak resident memory (VmHWM).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "?"
}

// logFinals shows each final turn (go test -v) with its end-of-turn
// confidence (1: a speaker change, 0: the longest turn) and latency, to see
// where live words differ from the reference and where latency comes from.
func logFinals(t *testing.T, r timedRun) {
	trace := os.Getenv("WHOSPOKE_LIVE_TRACE") != ""
	for i, ev := range r.events {
		if trace && ev.Kind == Partial {
			t.Logf("  partial %d %.2f–%.2f at %.2f s: %s", ev.Turn.Order, ev.Turn.Start, ev.Turn.End, r.at[i], ev.Turn.Text)
		}
		if ev.Kind == Final {
			t.Logf("final %d %.2f–%.2f %s (eot %.1f, after %.2f s): %s", ev.Turn.Order, ev.Turn.Start, ev.Turn.End,
				ev.Turn.Speaker, ev.Turn.EndOfTurnConfidence, r.at[i]-ev.Turn.End, ev.Turn.Text)
		}
	}
}

// chosen reports whether WHOSPOKE_LIVE_FILES (comma-separated parts of file
// names; all files when unset) picks the dev file name.
func chosen(name string) bool {
	only := os.Getenv("WHOSPOKE_LIVE_FILES")
	for part := range strings.SplitSeq(only, ",") {
		if part != "" && strings.Contains(name, part) {
			return true
		}
	}
	return only == ""
}

// logSlowWords shows the final words first seen latest after they were
// spoken, and whether a partial had them, to see what the partial latency's
// tail is made of.
func logSlowWords(t *testing.T, r timedRun) {
	type slow struct {
		w       Word
		late    float64
		partial bool
	}
	var all []slow
	for i, e := range r.events {
		if e.Kind != Final {
			continue
		}
		for _, w := range e.Turn.Words {
			seen := r.firstSeen(e.Turn.Order, w, i)
			all = append(all, slow{w, seen - w.End, seen < r.at[i]})
		}
	}
	slices.SortFunc(all, func(a, b slow) int { return cmp.Compare(b.late, a.late) })
	for _, x := range all[:min(len(all), 8)] {
		t.Logf("slow word %q at %.2f s: first seen %.2f s later (in a partial: %v)", x.w.Text, x.w.Start, x.late, x.partial)
	}
}

// heapWatch samples the Go heap in use every 100 ms, to tell Go's share
// of the process's memory from ONNX Runtime's.
type heapWatch struct {
	done chan struct{}
	max  atomic.Uint64
	wg   sync.WaitGroup
}

func watchHeap() *heapWatch {
	h := &heapWatch{done: make(chan struct{})}
	h.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			h.max.Store(max(h.max.Load(), m.HeapInuse))
			select {
			case <-tick.C:
			case <-h.done:
				return
			}
		}
	})
	return h
}

func (h *heapWatch) stop()        { close(h.done); h.wg.Wait() }
func (h *heapWatch) peak() uint64 { return h.max.Load() }

// refWords reads a dev reference transcript (eval.ReadReferenceFile).
func refWords(t testing.TB, path string) []eval.TimedWord {
	t.Helper()
	ws, err := eval.ReadReferenceFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// logMisattributed shows each matched word whose speaker after the
// revisions is wrong: the words the attribution target counts.
func logMisattributed(t *testing.T, a eval.Attribution) {
	for i, r := range a.Ref {
		if j := a.Match[i]; j >= 0 && !a.RightAt(i) {
			h := a.Hyp[j]
			t.Logf("wrong speaker after revisions: %q at %.2f–%.2f s, %s in the reference; %s (%s) at %.2f–%.2f s",
				r.Text, r.Start, r.End, r.Speaker, h.Speaker, a.Mapping[h.Speaker], h.Start, h.End)
		}
	}
}

// logErrors shows each word error of the final turns, and whether its
// final word was committed by agreeing partials or came from the final's
// own decode: where live words differ from the reference, and why.
func logErrors(t *testing.T, ref []eval.TimedWord, r timedRun) {
	type word struct {
		text       string
		start, end float64
		committed  bool
	}
	var hyp []word
	for i, e := range r.events {
		if e.Kind != Final {
			continue
		}
		for _, w := range e.Turn.Words {
			c := r.committedBefore(e.Turn.Order, w, i)
			for _, x := range eval.NormaliseWords(w.Text) {
				hyp = append(hyp, word{x, w.Start, w.End, c})
			}
		}
	}
	var rt []string
	var rs []float64
	for _, w := range ref {
		for _, x := range eval.NormaliseWords(w.Text) {
			rt, rs = append(rt, x), append(rs, w.Start)
		}
	}
	ht := make([]string, len(hyp))
	for i, w := range hyp {
		ht[i] = w.text
	}
	var fromPartials, fromFinal, deleted int
	for _, p := range eval.AlignWords(rt, ht) {
		switch {
		case p.Op == eval.OpMatch:
			continue
		case p.Hyp < 0:
			deleted++
			t.Logf("error %c at %.2f s: %q missing", p.Op, rs[p.Ref], rt[p.Ref])
			continue
		case hyp[p.Hyp].committed:
			fromPartials++
		default:
			fromFinal++
		}
		refText := ""
		if p.Ref >= 0 {
			refText = rt[p.Ref]
		}
		t.Logf("error %c at %.2f–%.2f s: %q for %q (committed by partials: %v)", p.Op, hyp[p.Hyp].start, hyp[p.Hyp].end,
			hyp[p.Hyp].text, refText, hyp[p.Hyp].committed)
	}
	t.Logf("errors: %d in words committed by partials, %d in words of the final decode, %d deletions", fromPartials, fromFinal, deleted)
}

// committedBefore reports whether a partial of turn order before event
// last held word w as committed (final).
func (r timedRun) committedBefore(order int, w Word, last int) bool {
	for _, e := range r.events[:last] {
		if e.Kind != Partial || e.Turn.Order != order {
			continue
		}
		for _, x := range e.Turn.Words {
			if x.Final && x.Text == w.Text && math.Abs(x.Start-w.Start) < 1e-6 {
				return true
			}
		}
	}
	return false
}
