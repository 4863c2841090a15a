package segmentation

import (
	"math"
	"testing"
)

// InferChunks on a 10 s buffer matches Infer+decode, and a 5 s buffer gives
// the frame count ChunkFrames predicts.
func TestInferChunks(t *testing.T) {
	m, err := New(Config{Model: "../../shared/models/pyannote-segmentation-3.0/model.onnx", BatchSize: 1, Step: 1, Threads: 2})
	if err != nil {
		t.Skip("model not found")
	}
	defer m.Close()
	in := make([]float32, WindowSamples)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)*0.05)) * 0.1 * float32(i%97) / 97
	}
	logp, err := m.Infer(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	var probs [NumFrames][LocalSpeakers]float32
	var active [NumFrames][LocalSpeakers]bool
	decode(logp, &probs, &active)
	got, err := m.InferChunks(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Probs) != NumFrames {
		t.Fatalf("%d frames, want %d", len(got[0].Probs), NumFrames)
	}
	for f := range NumFrames {
		if got[0].Probs[f] != probs[f] || got[0].Active[f] != active[f] {
			t.Fatalf("frame %d differs", f)
		}
	}
	half, err := m.InferChunks(in[:2*80000], 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(half) != 2 || len(half[1].Probs) != ChunkFrames(80000) {
		t.Fatalf("5 s buffers: %d chunks, %d frames, want 2, %d", len(half), len(half[1].Probs), ChunkFrames(80000))
	}
}
