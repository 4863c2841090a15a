package audio

import "encoding/binary"

// Resampler converts a live stream to SampleRate block by block (the file
// decoders' filter, with its state carried across blocks).
type Resampler struct{ r *resampler }

// NewResampler converts from inRate Hz to SampleRate.
func NewResampler(inRate int) *Resampler { return &Resampler{r: newResampler(inRate, SampleRate)} }

// Process returns the output samples x made computable; the slice is reused
// by the next call.
func (r *Resampler) Process(x []float32) []float32 { return r.r.process(x) }

// DecodePCM16 appends the little-endian signed 16-bit samples of b, scaled
// to [-1, 1), to dst; a trailing odd byte is ignored.
func DecodePCM16(dst []float32, b []byte) []float32 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, float32(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
	}
	return dst
}

// DecodeMulaw appends the G.711 μ-law bytes of b, as samples in [-1, 1], to dst.
func DecodeMulaw(dst []float32, b []byte) []float32 {
	for _, c := range b {
		dst = append(dst, mulaw[c])
	}
	return dst
}

// mulaw is the G.711 μ-law expansion of every byte, scaled by 1/32768.
var mulaw = func() (t [256]float32) {
	for i := range t {
		u := ^byte(i)
		mag := (int(u&0x0f)<<3 + 0x84) << (u >> 4 & 7)
		v := mag - 0x84
		if u&0x80 != 0 {
			v = -v
		}
		t[i] = float32(v) / 32768
	}
	return t
}()
