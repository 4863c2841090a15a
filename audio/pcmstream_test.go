package audio

import (
	"math"
	"testing"
)

// The μ-law table matches G.711's reference points: 0xFF and 0x7F are
// zero, 0x80 and 0x00 the extremes ±32124, and the code is monotonic.
func TestDecodeMulaw(t *testing.T) {
	got := DecodeMulaw(nil, []byte{0xff, 0x7f, 0x80, 0x00})
	want := []float32{0, 0, 32124.0 / 32768, -32124.0 / 32768}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("byte %d: %v, want %v", i, got[i], want[i])
		}
	}
	for c := 0x80; c < 0xff; c++ { // positive codes shrink towards 0xFF
		if mulaw[c] <= mulaw[c+1] {
			t.Fatalf("not monotonic at %#x", c)
		}
	}
}

func TestDecodePCM16(t *testing.T) {
	got := DecodePCM16(nil, []byte{0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x01})
	if len(got) != 3 || got[0] != -1 || got[1] != 32767.0/32768 || got[2] != 0 {
		t.Fatalf("%v", got)
	}
}

// A 1 kHz tone at 8 kHz fed in 50 ms blocks comes out at 16 kHz with the
// same length and frequency.
func TestResamplerLive(t *testing.T) {
	r := NewResampler(8000)
	var out []float32
	for b := range 20 {
		x := make([]float32, 400)
		for i := range x {
			x[i] = float32(math.Sin(2 * math.Pi * 1000 * float64(b*400+i) / 8000))
		}
		out = append(out, r.Process(x)...)
	}
	if n := len(out); n < 15800 || n > 16000 {
		t.Fatalf("%d samples out of 1 s at 8 kHz", n)
	}
	crossings := 0
	for i := 1000; i < 15000; i++ {
		if (out[i-1] < 0) != (out[i] < 0) {
			crossings++
		}
	}
	// 14000 samples at 16 kHz of a 1 kHz tone: 1750 crossings.
	if crossings < 1740 || crossings > 1760 {
		t.Fatalf("%d zero crossings, want about 1750", crossings)
	}
}
