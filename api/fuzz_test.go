package api

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzLiveFrame: a binary live message is one frame of finite samples or
// refused; the samples are the frame's floats with non-finite ones silenced.
func FuzzLiveFrame(f *testing.F) {
	frame := make([]byte, LiveFrameBytes)
	for i := range LiveFrameSamples {
		binary.LittleEndian.PutUint32(frame[4*i:], math.Float32bits(float32(math.Sin(float64(i)/10))))
	}
	f.Add(frame)
	f.Add(append([]byte{0, 0, 0xc0, 0x7f}, frame[4:]...)) // NaN
	f.Add(append([]byte{0, 0, 0x80, 0x7f}, frame[4:]...)) // +Inf
	f.Add(frame[:3200])
	f.Add(append(frame, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, bad, ok := DecodeLiveFrame(data)
		if !ok {
			if len(data) == LiveFrameBytes {
				t.Fatal("a full-size frame was refused")
			}
			return
		}
		if len(samples) != LiveFrameSamples {
			t.Fatalf("%d samples", len(samples))
		}
		n := 0
		for i, v := range samples {
			raw := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			switch {
			case math.IsNaN(float64(v)) || math.IsInf(float64(v), 0):
				t.Fatalf("sample %d is %v", i, v)
			case math.IsNaN(float64(raw)) || math.IsInf(float64(raw), 0):
				n++
			case v != raw:
				t.Fatalf("sample %d changed from %v to %v", i, raw, v)
			}
		}
		if n != bad {
			t.Fatalf("reported %d non-finite samples, found %d", bad, n)
		}
	})
}
