package audio

import (
	"encoding/binary"
	"io"
	"math"
)

// WriteWAV16Header writes the 44-byte header of a 16-bit PCM mono WAV of n
// samples at SampleRate; the samples follow it as PutPCM16 encodes them.
func WriteWAV16Header(w io.Writer, n int64) error {
	data := uint32(n * 2)
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	_, err := w.Write(h)
	return err
}

// PutPCM16 encodes x into dst (2 bytes per sample) as little-endian 16-bit
// PCM, clipping to the 16-bit range.
func PutPCM16(dst []byte, x []float32) {
	for i, v := range x {
		s := int16(math.Max(-32768, math.Min(32767, math.Round(float64(v)*32768))))
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(s))
	}
}
