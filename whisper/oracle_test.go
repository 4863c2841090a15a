package whisper

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/internal/testenv"
)

// oracleClip is one dev clip's decoding by openai-whisper's own decode()
// over the same ONNX files (scripts/whisper_oracle.py).
type oracleClip struct {
	Clip     string `json:"clip"`
	Tokens   []int  `json:"tokens"`
	Text     string `json:"text"`
	Language string `json:"language"`
}

// oracleSample is how many clips of each model make test decodes: all 157
// take minutes, so the fast run takes clips spread evenly over the golden
// file (jfk, digit strings, read speech), and WHOSPOKE_WHISPER_ORACLE_ALL=1
// takes them all.
var oracleSample = map[string]int{"whisper-tiny.en": 10, "whisper-base": 5}

// TestOracleNoTimestamps checks issue 18's oracle: audio under 30 s decoded
// in one window, greedy, without timestamps, gives openai-whisper's tokens
// token for token (testdata/oracle_notimestamps.json, made by
// scripts/whisper_oracle.py from openai-whisper 20250625 on the same int8
// files; a multilingual model detects the language first, as decode() does).
func TestOracleNoTimestamps(t *testing.T) {
	dev := testenv.DevSet(t)
	b, err := os.ReadFile("testdata/oracle_notimestamps.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Models map[string][]oracleClip `json:"models"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	all := os.Getenv("WHOSPOKE_WHISPER_ORACLE_ALL") != ""
	for name, n := range oracleSample {
		clips := golden.Models[name]
		if len(clips) == 0 {
			t.Fatalf("%s: no golden clips", name)
		}
		if !all {
			clips = spread(clips, n)
		}
		m := model(t, name)
		diverged := 0
		for _, c := range clips {
			mel := logMel(t, m, samples(t, loadAudio(t, filepath.Join(dev, c.Clip))))
			r, err := m.Decode(context.Background(), mel, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(r.Tokens, c.Tokens) || r.Language != c.Language && c.Language != "" {
				diverged++
				t.Errorf("%s %s:\n got %v %q\nwant %v %q", name, c.Clip, r.Tokens, r.Text, c.Tokens, c.Text)
			}
		}
		t.Logf("%s: %d of %d clips token for token", name, len(clips)-diverged, len(clips))
	}
}

// spread picks n items evenly spaced over xs, the first included.
func spread[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}
