package livetranscribe

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/whisper"
)

// TestPromptLoopRetried: on sim06, the turn after a digit string (56.26 s)
// failed the short window's guard in every partial while the digits were
// the prompt, and passed without them; a partial must hear the clip alone
// rather than show nothing for seconds.
func TestPromptLoopRetried(t *testing.T) {
	e := testEngine(t)
	samples := loadSamples(t, filepath.Join(testenv.DevSet(t), "sim/sim06_digits_3spk.wav"))
	s, err := e.NewSession(Options{Turns: DefaultTurnDetection(), Partials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	w := newWorker(s)
	w.history = strings.Fields("9, 0, 8, 4, 4, 4, 8, 5, 2, 5, 7, 2,")
	j := job{kind: jobPartial, start: int64(56.26 * SampleRate), samples: samples[int(56.26*SampleRate):int(60*SampleRate)]}
	words, err := w.decode(context.Background(), j, nil, true, false)
	if err != nil || len(words) < 4 {
		t.Fatalf("partial of 56.26–60 s after a digit prompt: %d words, %v; want ≥ 4 (four, nine, zero, four)", len(words), err)
	}
	if len(w.history) == 0 {
		t.Error("a guard failure with the prompt dropped the session's history, which finals condition on")
	}
}

func TestTruncated(t *testing.T) {
	upTo := func(end float64) []Word {
		return []Word{{Text: "a", Start: 0, End: 0.5}, {Text: "b", Start: end - 0.3, End: end}}
	}
	for _, c := range []struct {
		name      string
		cur, prev []Word
		want      bool
	}{
		{"first decode", upTo(1), nil, false},
		{"grew", upTo(6), upTo(5), false},
		{"jitter", upTo(4.7), upTo(5), false},
		{"stopped early", upTo(2), upTo(5), true},
		{"nothing heard", nil, upTo(5), true},
	} {
		if got := truncated(c.cur, c.prev); got != c.want {
			t.Errorf("%s: truncated = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestBeforeEnd: a last word of no duration at the clip's end (sim07's
// repeated "Five." at 45.20–45.20 s of a clip ending at 45.24 s) was not
// heard; a word the clip cut has audio inside it and is kept.
func TestBeforeEnd(t *testing.T) {
	w := func(start, end float64) whisper.Word { return whisper.Word{Text: "x", Start: start, End: end} }
	for _, c := range []struct {
		name  string
		words []whisper.Word
		want  int
	}{
		{"repeat at the end", []whisper.Word{w(0.5, 1.0), w(2.0, 2.68), w(2.68, 2.68)}, 2},
		{"cut by the clip", []whisper.Word{w(0.5, 1.0), w(2.5, 2.72)}, 2},
		{"no duration, inside", []whisper.Word{w(0.5, 1.0), w(1.8, 1.8), w(1.9, 2.5)}, 3},
		{"nothing", nil, 0},
	} {
		if got := beforeEnd(c.words, 2.72); got != c.want {
			t.Errorf("%s: kept %d words, want %d", c.name, got, c.want)
		}
	}
}

// TestFinalContinuesTruncatedDecode: sim03's 11.5–26.2 s, one speaker's
// 14.7 s turn, decoded in the 30 s window stops at 15.4 s though the
// speech (and the turn's partials) go on to 26 s. The final decodes on
// from its last word, as Whisper's long-form loop would, and keeps the
// words to the end; what the partials heard of the next speaker past a
// split does not count (heardBefore).
func TestFinalContinuesTruncatedDecode(t *testing.T) {
	e := testEngine(t)
	samples := loadSamples(t, filepath.Join(testenv.DevSet(t), "sim/sim03_4spk.wav"))
	s, err := e.NewSession(Options{Turns: DefaultTurnDetection(), Partials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	w := newWorker(s)
	at := func(sec float64) int64 { return int64(sec * SampleRate) }
	j := job{kind: jobFinal, turn: 1, start: at(11.5), samples: samples[at(11.5):at(26.2)]}
	w.startTurn(1)
	w.cur.prev = []Word{{Text: "his", Start: 12.0, End: 12.3}, {Text: "sentences.", Start: 25.5, End: 26.0},
		{Text: "next", Start: 26.5, End: 26.8}}
	if err := w.final(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	ev := <-s.Events()
	if ev.Kind != Final || len(ev.Turn.Words) < 40 || ev.Turn.End < 25 {
		t.Fatalf("final %v of %d words ending at %.2f s, want ≥ 40 words to about 26 s: %q",
			ev.Kind, len(ev.Turn.Words), ev.Turn.End, ev.Turn.Text)
	}
	if got := heardBefore(w.cur.prev, j); len(got) != 0 {
		t.Errorf("heardBefore after the final: %v (the turn's state is reset)", got)
	}
	if got := heardBefore([]Word{{End: 20}, {End: 26.1}, {End: 26.5}}, j); len(got) != 2 {
		t.Errorf("heardBefore kept %d words ending by 26.2 s, want 2", len(got))
	}
}
