package livetranscribe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	livediar "github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/whisper"
)

var (
	engineOnce sync.Once
	shared     *Engine
	engineErr  error
)

// testEngine loads the real models once (Whisper tiny.en, Silero, the
// diarizer's), the installed ones or else the shared folder.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	engineOnce.Do(func() {
		dir := testenv.ModelsDir("whisper-tiny.en")
		var m livediar.Models
		if m, engineErr = livediar.LoadModels(dir, 1); engineErr != nil {
			return
		}
		var live *livediar.Engine
		if live, engineErr = livediar.New(livediar.DefaultConfig(), m); engineErr != nil {
			return
		}
		shared, engineErr = New(Config{ModelsDir: dir, Live: live, ShortFinals: os.Getenv("WHOSPOKE_LIVE_SHORT_FINALS") != ""})
	})
	if engineErr != nil {
		t.Skipf("models not installed (run `make setup`): %v", engineErr)
	}
	return shared
}

func loadSamples(t testing.TB, path string) []float32 {
	t.Helper()
	a, err := audio.Open(context.Background(), path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run streams samples through a session in 100 ms frames as fast as the
// engine takes them and collects every event.
func run(t *testing.T, e *Engine, opt Options, samples []float32) []Event {
	t.Helper()
	events := runWith(t, e, opt, samples)
	if t.Failed() {
		t.FailNow()
	}
	return events
}

func finalWords(events []Event) []eval.TimedWord {
	var ws []eval.TimedWord
	for _, e := range events {
		if e.Kind == Final {
			for _, w := range e.Turn.Words {
				ws = append(ws, eval.TimedWord{Start: w.Start, End: w.End, Text: w.Text, Speaker: w.Speaker})
			}
		}
	}
	return ws
}

// revisedWords is the final turns' words as a client holds them at the
// end: each final with the speakers of its latest SpeakerRevision.
func revisedWords(events []Event) []eval.TimedWord {
	var turns []Turn
	at := map[int]int{} // Order → index in turns
	for _, e := range events {
		switch e.Kind {
		case Final:
			at[e.Turn.Order] = len(turns)
			turns = append(turns, *e.Turn)
		case Revision:
			for _, r := range e.Revised {
				if i, ok := at[r.Order]; ok {
					turns[i] = r
				}
			}
		}
	}
	var ws []eval.TimedWord
	for _, t := range turns {
		for _, w := range t.Words {
			ws = append(ws, eval.TimedWord{Start: w.Start, End: w.End, Text: w.Text, Speaker: w.Speaker})
		}
	}
	return ws
}

// TestConversation streams a two-speaker digit conversation with exact word
// times and checks what a live captioner needs: the finals' words match the
// reference, carry both speakers, come in order, and no word marked final in
// a partial ever changes.
func TestConversation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := testEngine(t)
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	samples := loadSamples(t, filepath.Join(dev, "sim/sim07_digits_2spk.wav"))
	ref := refWords(t, filepath.Join(dev, "sim/sim07_digits_2spk.words.tsv"))

	events := run(t, e, Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true}, samples)
	for _, ev := range events {
		if ev.Kind == Final {
			t.Logf("final %d %.2f-%.2f [%s] %s", ev.Turn.Order, ev.Turn.Start, ev.Turn.End, ev.Turn.Speaker, ev.Turn.Text)
		}
	}
	score := eval.ScoreTranscript(ref, finalWords(events))
	t.Logf("WER %.1f %% (%d/%d), speaker accuracy %.1f %%", 100*score.WER, score.Errors, score.RefWords, 100*score.SpeakerAccuracy)
	// A regression bound, not the target: 25.7 % when measured, batch
	// transcription of the file 14.9 % (BENCHMARKS.md, Live transcription).
	if score.WER > 0.35 {
		t.Errorf("WER of the finals %.1f %% > 35 %%", 100*score.WER)
	}
	if score.SpeakerAccuracy < 0.7 {
		t.Errorf("speaker-attributed word accuracy %.1f %% < 70 %%", 100*score.SpeakerAccuracy)
	}
	checkTurns(t, events)
	checkCloseRevision(t, ref, events)
}

// checkCloseRevision checks the revision the session sends at its close,
// from the diarizer's re-clustering of the whole stream: it is the last
// event, it holds only turns whose labels it changes, and it makes more of
// the words' speakers right than the labels sent before it. On sim07 the
// online assignment gives a run of turns the wrong speaker, which only
// hindsight corrects (BENCHMARKS.md, Live transcription, issue 16).
func checkCloseRevision(t *testing.T, ref []eval.TimedWord, events []Event) {
	t.Helper()
	last := len(events) - 1
	if last < 0 || events[last].Kind != Revision {
		t.Fatal("the session's last event is not the close revision")
	}
	before := revisedWords(events[:last])
	held := map[int]Turn{}
	for _, ev := range events[:last] {
		switch ev.Kind {
		case Final:
			held[ev.Turn.Order] = *ev.Turn
		case Revision:
			for _, r := range ev.Revised {
				held[r.Order] = r
			}
		}
	}
	for _, r := range events[last].Revised {
		if labels(held[r.Order]) == labels(r) {
			t.Errorf("close revision resends turn %d unchanged", r.Order)
		}
		t.Logf("close revision: turn %d [%s] → [%s] %s", r.Order, held[r.Order].Speaker, r.Speaker, r.Text)
	}
	b, a := eval.ScoreAttribution(ref, before), eval.ScoreAttribution(ref, revisedWords(events))
	t.Logf("attribution before the close revision %d/%d words, after %d/%d", b.Right, b.Matched, a.Right, a.Matched)
	if a.Right <= b.Right {
		t.Errorf("the close revision corrected no word's speaker: %d right before, %d after", b.Right, a.Right)
	}
}

// checkTurns checks the invariants of a session's events: turn orders
// count up from 0 as finals arrive, each order has one final, partials come
// before their final, and every word a partial marked final is in the final
// with the same text and times.
// checkNoOverlap: turns cover disjoint audio, so a final's first word
// starts after the previous final's last word ends (no word is decoded
// into two turns).
func checkNoOverlap(t *testing.T, prev, cur *Turn) {
	t.Helper()
	if prev == nil || len(cur.Words) == 0 {
		return
	}
	last, first := prev.Words[len(prev.Words)-1], cur.Words[0]
	if first.Start < last.End-0.05 {
		t.Errorf("turn %d starts with %q at %.2f s, before turn %d's %q ends at %.2f s", cur.Order, first.Text, first.Start, prev.Order, last.Text, last.End)
	}
}

func checkTurns(t *testing.T, events []Event) {
	t.Helper()
	finals := map[int]*Turn{}
	committed := map[int][]Word{}
	speakers := map[string]bool{}
	next := 0
	var lastFinal *Turn
	for _, e := range events {
		switch e.Kind {
		case Partial:
			if finals[e.Turn.Order] != nil {
				t.Errorf("partial of turn %d after its final", e.Turn.Order)
			}
			for i, w := range e.Turn.Words {
				if !w.Final {
					break
				}
				if i >= len(committed[e.Turn.Order]) {
					committed[e.Turn.Order] = append(committed[e.Turn.Order], w)
				} else if c := committed[e.Turn.Order][i]; c.Text != w.Text || c.Start != w.Start {
					t.Errorf("turn %d word %d was final %q at %.2f, now %q at %.2f", e.Turn.Order, i, c.Text, c.Start, w.Text, w.Start)
				}
			}
		case Final:
			if e.Turn.Order != next {
				t.Errorf("final of turn %d, want %d", e.Turn.Order, next)
			}
			next = e.Turn.Order + 1
			checkNoOverlap(t, lastFinal, e.Turn)
			if len(e.Turn.Words) > 0 {
				lastFinal = e.Turn
			}
			finals[e.Turn.Order] = e.Turn
			for i, c := range committed[e.Turn.Order] {
				if i >= len(e.Turn.Words) || e.Turn.Words[i].Text != c.Text || e.Turn.Words[i].Start != c.Start {
					t.Errorf("turn %d: final lost committed word %d %q", e.Turn.Order, i, c.Text)
					break
				}
			}
			for _, w := range e.Turn.Words {
				if !w.Final {
					t.Errorf("turn %d: word %q in a final is not final", e.Turn.Order, w.Text)
				}
			}
			if e.Turn.Speaker != "" {
				speakers[e.Turn.Speaker] = true
			}
		}
	}
	if len(finals) == 0 {
		t.Fatal("no final turn")
	}
	if len(speakers) < 2 {
		t.Errorf("final turns carry %d speaker labels, want ≥ 2", len(speakers))
	}
}

// TestConcurrentSessions runs eight sessions at once on one engine (shared
// models, shared decoder slots), each on its own stretch of a conversation,
// and checks that every one finishes with its finals and that no goroutine
// outlives them.
func TestConcurrentSessions(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := testEngine(t)
	dev := testenv.DevSet(t, "sim/sim01_2spk.wav")
	samples := loadSamples(t, filepath.Join(dev, "sim/sim01_2spk.wav"))
	const n, seconds = 8, 8
	var wg sync.WaitGroup
	finals := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := i * seconds * SampleRate
			clip := samples[off:min(off+seconds*SampleRate, len(samples))]
			for _, ev := range runWith(t, e, Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true}, clip) {
				if ev.Kind == Final && len(ev.Turn.Words) > 0 {
					finals[i]++
				}
			}
		}()
	}
	wg.Wait()
	for i, f := range finals {
		if f == 0 {
			t.Errorf("session %d: no final with words", i)
		}
	}
}

// runWith is run for any goroutine: failures go to t.Error.
func runWith(t testing.TB, e *Engine, opt Options, samples []float32) []Event {
	s, err := e.NewSession(opt)
	if err != nil {
		t.Error(err)
		return nil
	}
	var events []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range s.Events() {
			events = append(events, ev)
		}
	}()
	ctx := context.Background()
	for off := 0; off < len(samples); off += 1600 {
		if err := s.Push(ctx, samples[off:min(off+1600, len(samples))]); err != nil {
			t.Error(err)
			break
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Error(err)
	}
	<-done
	return events
}

// TestClientTurns: with client turns (OpenAI's turn_detection null) only
// EndTurn ends a turn, every EndTurn is answered by a committed final (an
// empty one when nothing was said), and Clear drops the open audio.
func TestClientTurns(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := testEngine(t)
	samples := loadSamples(t, filepath.Join(testenv.ModelsDir("test-audio"), "test-audio", "pyannote-sample", "sample.wav"))
	td := DefaultTurnDetection()
	td.Mode = TurnsByClient
	s, err := e.NewSession(Options{Turns: td})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range s.Events() {
			events = append(events, ev)
		}
	}()
	ctx := context.Background()
	push := func(from, to float64) {
		if err := s.Push(ctx, samples[int(from*SampleRate):int(to*SampleRate)]); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.EndTurn(ctx)) // nothing yet: an empty committed final
	push(0, 12)
	must(s.EndTurn(ctx))
	push(12, 20)
	must(s.Clear(ctx)) // dropped: never transcribed
	push(20, 30)
	must(s.Close(ctx))
	<-done
	var got []*Turn
	for _, ev := range events {
		if ev.Kind == SpeechStarted || ev.Kind == SpeechStopped {
			t.Errorf("server VAD event %v with client turns", ev.Kind)
		}
		if ev.Kind == Final {
			got = append(got, ev.Turn)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d finals, want 3 (empty commit, commit, close)", len(got))
	}
	if !got[0].Committed || len(got[0].Words) != 0 {
		t.Errorf("first final %+v: want an empty committed turn", got[0])
	}
	if !got[1].Committed || len(got[1].Words) == 0 || got[1].End > 12.5 {
		t.Errorf("second final %q %.2f-%.2f: want committed words within 0..12 s", got[1].Text, got[1].Start, got[1].End)
	}
	if got[2].Committed || len(got[2].Words) == 0 || got[2].Start < 19.5 {
		t.Errorf("last final %q %.2f-%.2f: want words after the cleared 12..20 s", got[2].Text, got[2].Start, got[2].End)
	}
}

func TestLoopStart(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"one two three four", 4},
		{"four four four", 3},
		{"seven four four four four four", 2},
		{"one two one two one two", 6},
		{"nine one two one two one two one two", 3},
		{"eight five four eight nine four eight nine four eight nine four eight nine nine", 5},
		{"one two three one two three", 6},
	} {
		var words []whisper.Word
		for _, w := range strings.Fields(c.text) {
			words = append(words, whisper.Word{Text: " " + w})
		}
		if got := loopStart(words); got != c.want {
			t.Errorf("loopStart(%q) = %d, want %d", c.text, got, c.want)
		}
	}
}

// TestHeardUntil: the decodes of sim06 in which Whisper repeated the
// clip's digits past its end, aligned into its last instant.
func TestHeardUntil(t *testing.T) {
	w := func(start, end, p float64) whisper.Word {
		return whisper.Word{Text: "x", Start: start, End: end, Probability: p}
	}
	repeatAtEnd := []whisper.Word{w(29.75, 30.53, .31), w(30.71, 31.25, .90), w(31.51, 31.81, .97), w(32.13, 32.61, .98),
		w(32.73, 33.03, .93), w(33.31, 33.87, .99), w(33.93, 34.21, .98), w(34.21, 34.21, .03), w(34.21, 34.21, .84),
		w(34.21, 34.21, .94), w(34.21, 34.21, .86), w(34.25, 34.25, .95)}
	if got := heardUntil(repeatAtEnd); got != 7 {
		t.Errorf("repeat at the end: heard until %d, want 7", got)
	}
	// Words aligned short before the end are heard; so is a real word
	// before a crammed tail ("3, 4, 6" then "4, 6, 4" at 20.48 s on sim07).
	shortInside := []whisper.Word{w(34.87, 35.69, .06), w(36.13, 36.13, .75), w(36.17, 36.57, .79), w(36.83, 37.31, .98),
		w(37.17, 37.93, .98), w(38.15, 38.59, .99)}
	if got := heardUntil(shortInside); got != len(shortInside) {
		t.Errorf("short word inside: heard until %d, want all %d", got, len(shortInside))
	}
	realThenCrammed := []whisper.Word{w(18.55, 19.29, 0), w(19.68, 20.05, .29), w(20.13, 20.48, .52), w(20.48, 20.48, .11),
		w(20.48, 20.48, .37), w(20.48, 20.48, .26)}
	if got := heardUntil(realThenCrammed); got != 3 {
		t.Errorf("real words, then a crammed tail: heard until %d, want 3", got)
	}
	// The last word alone at the clip's end is kept.
	lastShort := []whisper.Word{w(1, 1.4, .9), w(1.5, 1.5, .9)}
	if got := heardUntil(lastShort); got != 2 {
		t.Errorf("one short last word: heard until %d, want 2", got)
	}
	// A crammed tail with one longer word inside is still cut where it starts.
	mixed := []whisper.Word{w(70.60, 70.98, .98), w(71.12, 71.30, .99), w(71.30, 71.30, .25), w(71.30, 71.30, .67),
		w(71.30, 71.30, .07), w(71.40, 71.52, .37), w(71.52, 71.52, .68), w(71.52, 71.52, .48)}
	if got := heardUntil(mixed); got != 2 {
		t.Errorf("crammed tail: heard until %d, want 2", got)
	}
}
