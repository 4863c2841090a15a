package api

import (
	"encoding/binary"
	"math"
)

// DecodeLiveFrame turns one binary live message into samples: ok is false
// unless it is exactly one frame of pcm_f32le; non-finite samples become
// silence and are counted in bad.
func DecodeLiveFrame(data []byte) (samples []float32, bad int, ok bool) {
	if len(data) != LiveFrameBytes {
		return nil, 0, false
	}
	samples = make([]float32, LiveFrameSamples)
	for i := range samples {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			v, bad = 0, bad+1
		}
		samples[i] = v
	}
	return samples, bad, true
}
