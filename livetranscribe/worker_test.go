package livetranscribe

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/internal/testenv"
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
	words, err := w.decode(context.Background(), j, true, false)
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
