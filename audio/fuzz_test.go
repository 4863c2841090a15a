package audio

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzDecodeWAV feeds arbitrary bytes to the native WAV decoder: it must
// return samples or an error, never panic, hang or allocate beyond the
// duration limit, and the samples it returns are finite.
func FuzzDecodeWAV(f *testing.F) {
	sine := tone(440, 8000, 400, 0.5)
	mono := frames(sine)
	for _, w := range []wavSpec{
		{tag: 1, channels: 1, rate: 16000, bits: 16, frames: frames(tone(440, 16000, 400, 0.5))},
		{tag: 1, channels: 2, rate: 8000, bits: 8, frames: frames(sine, sine)},
		{tag: 3, channels: 1, rate: 44100, bits: 32, frames: mono},
		{tag: 3, channels: 1, rate: 22050, bits: 64, frames: mono},
		{tag: 1, channels: 1, rate: 48000, bits: 24, frames: mono},
		{tag: 0xFFFE, sub: 1, channels: 1, rate: 16000, bits: 32, frames: mono},
		{tag: 1, channels: 1, rate: 16000, bits: 16, frames: mono, dataSize: 0xFFFFFFFF},
		{tag: 1, channels: 1, rate: 16000, bits: 16, raw: []byte{1, 2, 3}, between: [][]byte{chunk("LIST", []byte("x"))}},
	} {
		b := w.bytes()
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := DefaultOptions()
		opt.MaxDuration = 10 * time.Second // bounds the work per input
		s := newSink(opt)
		err := decodeWAV(context.Background(), bytes.NewReader(data), int64(len(data)), opt, s)
		if err != nil {
			s.abort()
			if errors.Is(err, errNotNative) || errors.Is(err, ErrNotAudio) || errors.Is(err, ErrTruncated) ||
				errors.Is(err, ErrTooLong) || errors.Is(err, ErrBadChannel) {
				return
			}
			t.Fatalf("unexpected error kind: %v", err)
		}
		a, err := s.finish()
		if err != nil {
			return // e.g. too short
		}
		defer a.Close()
		if a.Len() > opt.maxSamples() {
			t.Fatalf("%d samples past the limit", a.Len())
		}
		x, err := a.Samples(0, a.Len())
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("sample %d is %v", i, v)
			}
		}
	})
}
