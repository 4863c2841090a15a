package segmentation

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/whospoke/whospoke/audio"
)

func TestWindowStarts(t *testing.T) {
	for _, tc := range []struct {
		n, step int64
		want    []int64
	}{
		{1, 16000, []int64{0}},
		{WindowSamples, 16000, []int64{0}},
		{WindowSamples + 1, 16000, []int64{0, 16000}},
		{WindowSamples + 16000, 16000, []int64{0, 16000}},
		{WindowSamples + 16001, 16000, []int64{0, 16000, 32000}},
	} {
		got := WindowStarts(tc.n, tc.step)
		if len(got) != len(tc.want) {
			t.Fatalf("n=%d: %v want %v", tc.n, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("n=%d: %v want %v", tc.n, got, tc.want)
			}
		}
		if last := got[len(got)-1]; last+WindowSamples < tc.n {
			t.Fatalf("n=%d: windows end at %d before the audio", tc.n, last+WindowSamples)
		}
	}
}

func TestDecodePowerset(t *testing.T) {
	logp := make([]float32, NumFrames*NumClasses)
	for f := range NumFrames {
		for c := range NumClasses {
			logp[f*NumClasses+c] = float32(math.Log(0.01))
		}
		best := f % NumClasses // cycle through every class
		logp[f*NumClasses+best] = float32(math.Log(0.94))
	}
	var probs [NumFrames][LocalSpeakers]float32
	var active [NumFrames][LocalSpeakers]bool
	decode(logp, &probs, &active)
	for f := range NumFrames {
		want := powerset[f%NumClasses]
		if active[f] != want {
			t.Fatalf("frame %d (class %d): active %v want %v", f, f%NumClasses, active[f], want)
		}
		for k := range LocalSpeakers {
			if want[k] && probs[f][k] < 0.9 || !want[k] && probs[f][k] > 0.1 {
				t.Fatalf("frame %d speaker %d: probability %v", f, k, probs[f][k])
			}
		}
	}
}

// The real model on the sample conversation: speech where the reference
// has speech, none in its silent opening (the first turn starts at 6.69 s).
func TestRealModelOnSample(t *testing.T) {
	const wav = "../../shared/models/test-audio/pyannote-sample/sample.wav"
	if _, err := os.Stat(wav); err != nil {
		t.Skip("shared models not found")
	}
	s, err := audio.Open(context.Background(), wav, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := New(Config{Model: "../../shared/models/pyannote-segmentation-3.0/model.onnx", BatchSize: 4, Step: 2, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.NumWindows(); got != 11 {
		t.Fatalf("%d windows for 30 s at a 2 s step, want 11", got)
	}
	activeAt := func(w int, from, to float64) int {
		n := 0
		for f := range NumFrames {
			if c := FrameCenter(f); c >= from && c < to {
				for k := range LocalSpeakers {
					if out.Active[w][f][k] {
						n++
					}
				}
			}
		}
		return n
	}
	if n := activeAt(0, 0, 6); n > 10 {
		t.Errorf("%d active frames in the silent first 6 s", n)
	}
	if n := activeAt(4, 1, 9); n < 200 { // window 4 spans 8..18 s: a dialogue
		t.Errorf("only %d active frames in 8..18 s of conversation", n)
	}
	if _, err := New(Config{Model: "missing.onnx", BatchSize: 1, Step: 1}); err == nil {
		t.Error("missing model: want an error")
	}
	if err := (Config{Model: "x", BatchSize: 0, Step: 1}).Validate(); err == nil {
		t.Error("batch 0: want an error")
	}
}

// BenchmarkInfer times one batch of 8 windows (80 s of audio) on 2 threads
// for the fp32 and int8 files: the default is the faster at equal DER.
func BenchmarkInfer(b *testing.B) {
	for _, file := range []string{"model.onnx", "model.int8.onnx"} {
		b.Run(file, func(b *testing.B) {
			m, err := New(Config{Model: "../../shared/models/pyannote-segmentation-3.0/" + file, BatchSize: 8, Step: 1, Threads: 2})
			if err != nil {
				b.Skip("model not found")
			}
			defer m.Close()
			in := make([]float32, 8*WindowSamples)
			for i := range in {
				in[i] = float32(math.Sin(float64(i)*0.05)) * 0.1 * float32(i%97) / 97
			}
			m.Infer(in, 8)
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.Infer(in, 8); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/8, "ms/window")
		})
	}
}
