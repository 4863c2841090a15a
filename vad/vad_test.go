package vad

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/onnx"
	ort "github.com/yalue/onnxruntime_go"
)

// TestSpeechAgreesWithReference runs the detector over the 30 s sample and
// checks that its frame decisions agree with the reference RTTM's speech
// regions (docs/MODELS.md measured 98.5 % at threshold 0.5), and that splitting the
// audio differently gives the same probabilities.
func TestSpeechAgreesWithReference(t *testing.T) {
	dir := testenv.ModelsDir("silero-vad")
	m, err := New(DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	wav := filepath.Join(dir, "test-audio", "pyannote-sample", "sample.wav")
	a, err := audio.Open(context.Background(), wav, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	samples := make([]float32, a.Len())
	if _, err := a.ReadAt(samples, 0); err != nil {
		t.Fatal(err)
	}
	ref := loadRTTM(t, filepath.Join(dir, "test-audio", "pyannote-sample", "sample.rttm"))

	whole, err := m.NewStream().Push(samples)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(samples) / FrameSamples; len(whole) != want {
		t.Fatalf("%d frames, want %d", len(whole), want)
	}
	agree := 0
	for i, p := range whole {
		mid := (float64(i) + 0.5) * FrameSeconds
		if (p >= 0.5) == speechAt(ref, mid) {
			agree++
		}
	}
	if share := float64(agree) / float64(len(whole)); share < 0.95 {
		t.Errorf("frame decisions agree with the reference %.1f %% of the time, want ≥ 95 %%", 100*share)
	}

	s := m.NewStream()
	var split []float32
	for off := 0; off < len(samples); off += 1000 { // frames that straddle pushes
		p, err := s.Push(samples[off:min(off+1000, len(samples))])
		if err != nil {
			t.Fatal(err)
		}
		split = append(split, p...)
	}
	if len(split) != len(whole) {
		t.Fatalf("split pushes gave %d frames, whole %d", len(split), len(whole))
	}
	for i := range whole {
		if split[i] != whole[i] {
			t.Fatalf("frame %d: %v split vs %v whole", i, split[i], whole[i])
		}
	}
}

// TestStreamTensorsReused checks that the stream's reused tensors and
// ping-ponged state give, frame for frame, what a call on fresh tensors
// with the state copied back gives.
func TestStreamTensorsReused(t *testing.T) {
	m, err := New(DefaultConfig(testenv.ModelsDir("silero-vad")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	samples := make([]float32, 40*FrameSamples)
	for i := range samples {
		samples[i] = float32(0.3 * math.Sin(float64(i)*0.05) * math.Sin(float64(i)*0.0007))
	}
	got, err := m.NewStream().Push(samples)
	if err != nil {
		t.Fatal(err)
	}
	input, state := make([]float32, contextLen+FrameSamples), make([]float32, 2*128)
	for f := range len(samples) / FrameSamples {
		copy(input[contextLen:], samples[f*FrameSamples:(f+1)*FrameSamples])
		in, _ := ort.NewTensor(ort.NewShape(1, int64(len(input))), input)
		st, _ := ort.NewTensor(ort.NewShape(2, 1, 128), state)
		sr, _ := ort.NewScalar(int64(SampleRate))
		outs, err := m.sess.Run(in, st, sr)
		onnx.Release(in, st, sr)
		if err != nil {
			t.Fatal(err)
		}
		p := outs[0].(*ort.Tensor[float32]).GetData()[0]
		copy(state, outs[1].(*ort.Tensor[float32]).GetData())
		onnx.Release(outs...)
		if got[f] != p {
			t.Fatalf("frame %d: %v from the stream, %v from fresh tensors", f, got[f], p)
		}
		copy(input[:contextLen], input[FrameSamples:])
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Error("empty config accepted")
	}
	if err := (Config{Path: filepath.Join(t.TempDir(), "none.onnx")}).Validate(); err == nil {
		t.Error("missing model accepted")
	}
	f := filepath.Join(t.TempDir(), "m.onnx")
	os.WriteFile(f, nil, 0o644)
	if err := (Config{Path: f, Threads: -1}).Validate(); err == nil {
		t.Error("negative threads accepted")
	}
}

func loadRTTM(t *testing.T, path string) *annotation.Annotation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	as, err := annotation.ReadRTTM(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		return a
	}
	t.Fatal("empty RTTM")
	return nil
}

func speechAt(a *annotation.Annotation, t float64) bool {
	for _, tr := range a.Turns {
		if tr.Start <= t && t < tr.End {
			return true
		}
	}
	return false
}
