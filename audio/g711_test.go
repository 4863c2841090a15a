package audio

import (
	"math"
	"testing"
)

// Reference points of ITU-T G.711: the codes for silence, the extremes and
// the sign, in both laws.
func TestG711(t *testing.T) {
	mu := []struct {
		b    byte
		want int16
	}{{0xff, 0}, {0x7f, 0}, {0x80, 32124}, {0x00, -32124}, {0xfe, 8}, {0x7e, -8}, {0xef, 132}}
	for _, c := range mu {
		if got := mulaw(c.b); got != c.want {
			t.Errorf("mulaw(%#x) = %d, want %d", c.b, got, c.want)
		}
	}
	a := []struct {
		b    byte
		want int16
	}{{0xd5, 8}, {0x55, -8}, {0xaa, 32256}, {0x2a, -32256}, {0xc5, 264}}
	for _, c := range a {
		if got := alaw(c.b); got != c.want {
			t.Errorf("alaw(%#x) = %d, want %d", c.b, got, c.want)
		}
	}
	// Every code decodes inside [-1, 1) and the laws are odd functions.
	dst := make([]float32, 256)
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	for _, dec := range []func([]float32, []byte){DecodeMulaw, DecodeAlaw} {
		dec(dst, src)
		for i, v := range dst {
			if v < -1 || v >= 1 || math.Abs(float64(v+dst[i^0x80])) > 1e-6 {
				t.Fatalf("code %#x decodes to %v (its mirror %v)", i, v, dst[i^0x80])
			}
		}
	}
}

// A 440 Hz tone fed in 10 ms blocks at 24 kHz comes out at 16 kHz as the
// same tone, with no glitch at the block edges.
func TestResamplerStream(t *testing.T) {
	r := NewResampler(24000, 16000)
	var out []float32
	in := make([]float32, 240)
	for blk := range 50 {
		for i := range in {
			in[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(blk*240+i)/24000))
		}
		out = append(out, r.Process(in)...)
	}
	if len(out) < 7900 || len(out) > 8000 {
		t.Fatalf("%d samples out of 12000 at 24 kHz", len(out))
	}
	for i := 100; i < len(out); i++ {
		want := 0.5 * math.Sin(2*math.Pi*440*float64(i)/16000)
		if d := math.Abs(float64(out[i]) - want); d > 0.01 {
			t.Fatalf("sample %d: %v, want %v", i, out[i], want)
		}
	}
}
