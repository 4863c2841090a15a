package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
)

func TestConcatWAV(t *testing.T) {
	src := "../../shared/eval/dev/real/falcon_test.wav"
	if _, err := os.Stat(src); err != nil {
		t.Skip("dev set not found")
	}
	out := filepath.Join(t.TempDir(), "long.wav")
	// 45 s from an 18.6 s file: cycles through it more than twice.
	if err := concatWAV(context.Background(), out, []string{src}, 45); err != nil {
		t.Fatal(err)
	}
	a, err := audio.Open(context.Background(), out, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Len() != 45*audio.SampleRate {
		t.Fatalf("%d samples, want %d", a.Len(), 45*audio.SampleRate)
	}
	orig, _ := audio.Open(context.Background(), src, audio.DefaultOptions())
	defer orig.Close()
	x, _ := orig.Samples(16000, 100)
	y, _ := a.Samples(orig.Len()+16000, 100) // same place, second pass
	for i := range x {
		if d := x[i] - y[i]; d > 1.0/32768 || d < -1.0/32768 {
			t.Fatalf("sample %d differs on the second pass: %v vs %v", i, x[i], y[i])
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := &Report{
		Date: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), Machine: "test machine", Command: "whospoke bench",
		Parts: []PartResult{{Part: "real", DER0: 20, DER25: 12, Audio: 100, Wall: 2}, {Condition: Phone, Part: "real", DER0: 30, Audio: 100, Wall: 2},
			{Part: Calls, DER0: 14, Audio: 1600, Wall: 50}},
		Files: []FileResult{{Part: "real", URI: "f1", Seconds: 30, DER0: 20, HypSpk: 3, RefCounted: 2,
			C0: eval.Components{Scored: 10, Missed: 1, FalseAlarm: 0.5, Confusion: 0.5}}},
		Groups: []GroupResult{{Condition: Clean, Group: "all", Files: 1, CountSmall: 1,
			C0: eval.Components{Scored: 10, Missed: 1, FalseAlarm: 0.5, Confusion: 0.5}},
			{Condition: Clean, Group: Calls, Files: 10, CountExact: 8, CountFar: 1, CountSmall: 10}},
		Long: []LongResult{{Hours: 1, Wall: 60, RTF: 60.0 / 3600, PeakRSSMB: 400, PeerWall: 150}},
		Peer: &PeerResult{DER: map[string]float64{"real c=0": 25, "real c=0.25": 15}, RTF: 0.1},
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2026-11-21", "test machine", "| real | **20.00**", "| real | 25.00 | 15.00 | 20.00 | 0.80 |", "| 1 h | 60.0s | 0.0167 | 400 MB | 150.0s | 0.40 |", "| real | f1 | 30.0s | 3/2 | +1 | 20.00 | 10.00 | 5.00 | 5.00 |",
		"| real (phone) | **30.00**", "| clean | all | 1 | **20.00** | 10.00 | 5.00 | 5.00 |",
		"- clean: count exact on 0 of 1 files; off by more than one on 0 of 1 files with ≤ 4 speakers",
		"| calls | **14.00**", "- clean, calls: count exact on 8 of 10 files; off by more than one on 1 of 10 files with ≤ 4 speakers"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	// The peer runs on the set's own parts only: no calls row beside it.
	if strings.Contains(b.String(), "| calls | 0.00 |") {
		t.Errorf("the peer table has a calls row:\n%s", b.String())
	}
}
