package embedding

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/features"
)

const dev = "../../shared/eval/dev"

func embedFile(t *testing.T, m *Model, fb *features.Fbank, path string) []float32 {
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
	feats := fb.Compute(s, nil)
	features.SubtractMean(feats, MelBins)
	v, err := m.Embed(feats, 1, len(feats)/MelBins)
	if err != nil {
		t.Fatal(err)
	}
	Normalize(v)
	return v
}

// On the dev voiceprint protocol, each test utterance is closer to its own
// speaker's enrolment than to the other speakers' (the model identifies all
// 61 test files; a few speakers keep the test fast).
func TestSameSpeakerScoresHigher(t *testing.T) {
	f, err := os.Open(filepath.Join(dev, "speakers/speaker_id_protocol.tsv"))
	if err != nil {
		t.Skip("dev set not found")
	}
	defer f.Close()
	m, err := New(Config{Model: "../../shared/models/3dspeaker-campplus-zh-en/model.onnx", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fb := features.NewFbank()
	speakers := map[string]bool{"ls_1688": true, "ls_1998": true, "ls_2033": true, "ls_3080": true}
	enrol := map[string][]float32{}
	type test struct{ speaker, path string }
	var tests []test
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 4 || !speakers[col[1]] {
			continue
		}
		path := filepath.Join(dev, col[0])
		switch col[3] {
		case "enroll":
			v := embedFile(t, m, fb, path)
			if enrol[col[1]] == nil {
				enrol[col[1]] = make([]float32, Dim)
			}
			for i := range v {
				enrol[col[1]][i] += v[i]
			}
		case "test":
			if len(tests) < 16 || tests[len(tests)-1].speaker != col[1] {
				tests = append(tests, test{col[1], path})
			}
		}
	}
	if len(enrol) != len(speakers) || len(tests) < len(speakers) {
		t.Fatalf("protocol: %d enrolled, %d tests", len(enrol), len(tests))
	}
	for _, tc := range tests {
		v := embedFile(t, m, fb, tc.path)
		best, bs := "", -2.0
		for spk, e := range enrol {
			if s := Cosine(v, e); s > bs {
				best, bs = spk, s
			}
		}
		if best != tc.speaker {
			t.Errorf("%s: closest to %s (%.2f), want %s", filepath.Base(tc.path), best, bs, tc.speaker)
		}
	}
}

func TestEmbedRejectsBadShapes(t *testing.T) {
	m, err := New(Config{Model: "../../shared/models/3dspeaker-campplus-zh-en/model.onnx", Threads: 1})
	if err != nil {
		t.Skip("model not found")
	}
	defer m.Close()
	for _, tc := range [][3]int{{0, 0, 20}, {80 * 5, 1, 5}, {80*20 + 1, 1, 20}} {
		if _, err := m.Embed(make([]float32, tc[0]), tc[1], tc[2]); err == nil {
			t.Errorf("%d values, n=%d t=%d: want an error", tc[0], tc[1], tc[2])
		}
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("empty config: want an error")
	}
}
