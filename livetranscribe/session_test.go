package livetranscribe

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/stream"
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
		var m stream.Models
		if m, engineErr = stream.LoadModels(dir, 1); engineErr != nil {
			return
		}
		var live *stream.Engine
		if live, engineErr = stream.New(stream.DefaultConfig(), m); engineErr != nil {
			return
		}
		shared, engineErr = New(Config{ModelsDir: dir, Live: live})
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
func run(t testing.TB, e *Engine, opt Options, samples []float32, pace time.Duration) []Event {
	t.Helper()
	s, err := e.NewSession(opt)
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
	for off := 0; off < len(samples); off += 1600 {
		if err := s.Push(ctx, samples[off:min(off+1600, len(samples))]); err != nil {
			t.Fatal(err)
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	return events
}

func readWords(t testing.TB, path string) []eval.TimedWord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ws []eval.TimedWord
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 {
			continue
		}
		a, _ := strconv.ParseFloat(c[0], 64)
		b, _ := strconv.ParseFloat(c[1], 64)
		ws = append(ws, eval.TimedWord{Start: a, End: b, Speaker: c[2], Text: c[3]})
	}
	return ws
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

// TestConversation streams a two-speaker digit conversation with exact word
// times and checks what a live captioner needs: the finals' words match the
// reference, carry both speakers, come in order, and no word marked final in
// a partial ever changes.
func TestConversation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := testEngine(t)
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	samples := loadSamples(t, filepath.Join(dev, "sim/sim07_digits_2spk.wav"))
	ref := readWords(t, filepath.Join(dev, "sim/sim07_digits_2spk.words.tsv"))

	events := run(t, e, Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true}, samples, 0)
	score := eval.ScoreTranscript(ref, finalWords(events))
	t.Logf("WER %.1f %% (%d/%d), speaker accuracy %.1f %%", 100*score.WER, score.Errors, score.RefWords, 100*score.SpeakerAccuracy)
	if score.WER > 0.2 {
		t.Errorf("WER of the finals %.1f %% > 20 %%", 100*score.WER)
	}
	if score.SpeakerAccuracy < 0.7 {
		t.Errorf("speaker-attributed word accuracy %.1f %% < 70 %%", 100*score.SpeakerAccuracy)
	}
	checkTurns(t, events)
}

// checkTurns checks the invariants of a session's events: turn orders
// count up from 0 as finals arrive, each order has one final, partials come
// before their final, and every word a partial marked final is in the final
// with the same text and times.
func checkTurns(t *testing.T, events []Event) {
	t.Helper()
	finals := map[int]*Turn{}
	committed := map[int][]Word{}
	speakers := map[string]bool{}
	next := 0
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

func TestDumpDebug(t *testing.T) {
	e := testEngine(t)
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	samples := loadSamples(t, filepath.Join(dev, "sim/sim07_digits_2spk.wav"))
	events := run(t, e, Options{Turns: DefaultTurnDetection(), Diarize: true, Partials: true}, samples, 0)
	for _, e := range events {
		switch e.Kind {
		case Final, Partial:
			t.Logf("%v %d %.2f-%.2f [%s] %q conf=%.1f", e.Kind, e.Turn.Order, e.Turn.Start, e.Turn.End, e.Turn.Speaker, e.Turn.Text, e.Turn.EndOfTurnConfidence)
		case Revision:
			t.Logf("revision %d turns", len(e.Revised))
		default:
			t.Logf("%v %.2f %s", e.Kind, e.Time, e.Speaker)
		}
	}
}
