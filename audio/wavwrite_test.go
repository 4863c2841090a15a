package audio

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// What WriteWAV16Header and PutPCM16 write decodes back to the samples,
// to 16-bit precision, with out-of-range samples clipped.
func TestWriteWAV16RoundTrip(t *testing.T) {
	x := []float32{0, 0.5, -0.5, 0.25, 1.5, -1.5, 1e-4}
	var wav bytes.Buffer
	if err := WriteWAV16Header(&wav, int64(len(x))); err != nil {
		t.Fatal(err)
	}
	pcm := make([]byte, 2*len(x))
	PutPCM16(pcm, x)
	wav.Write(pcm)
	path := filepath.Join(t.TempDir(), "x.wav")
	if err := os.WriteFile(path, wav.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), path, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Samples(0, a.Len())
	if err != nil || len(got) != len(x) {
		t.Fatalf("%d samples, %v", len(got), err)
	}
	for i, v := range x {
		want := math.Max(-1, math.Min(32767.0/32768, float64(v)))
		if math.Abs(float64(got[i])-want) > 1.0/32768 {
			t.Errorf("sample %d: got %v, want %v", i, got[i], want)
		}
	}
}
