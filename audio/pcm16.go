package audio

import "encoding/binary"

// DecodePCM16 decodes little-endian signed 16-bit samples into dst
// (len(dst) ≥ len(src)/2), scaled to [-1, 1); a trailing odd byte is ignored.
func DecodePCM16(dst []float32, src []byte) {
	for i := range len(src) / 2 {
		dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:]))) / 32768
	}
}
