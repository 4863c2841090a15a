package audio

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// sink collects decoded samples: in memory up to spillAfter samples, then in
// a temporary file of little-endian float32. It enforces MaxDuration as the
// samples arrive, so an over-long input stops decoding early.
type sink struct {
	mem        []float32
	f          *os.File
	enc        []byte
	n          int64
	max        int64
	spillAfter int64
	dir        string
}

func newSink(opt Options) *sink {
	s := &sink{max: opt.maxSamples(), spillAfter: opt.spillAfter, dir: opt.TempDir}
	if s.spillAfter <= 0 {
		s.spillAfter = defaultSpillAfter
	}
	return s
}

// expect prepares for about n samples: a memory buffer that will not need to
// grow, or straight away a spill file.
func (s *sink) expect(n int64) error {
	if s.n != 0 || s.f != nil {
		return nil
	}
	if n > s.spillAfter {
		return s.spill()
	}
	s.mem = make([]float32, 0, n)
	return nil
}

func (s *sink) write(x []float32) error {
	if s.n+int64(len(x)) > s.max {
		return fmt.Errorf("%w: more than %.0f s", ErrTooLong, float64(s.max)/SampleRate)
	}
	// Non-finite samples (from float WAVs or codecs) would poison every
	// later feature computation, so they become silence.
	for i, v := range x {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			x[i] = 0
		}
	}
	s.n += int64(len(x))
	if s.f == nil && s.n <= s.spillAfter {
		s.mem = append(s.mem, x...)
		return nil
	}
	if s.f == nil {
		if err := s.spill(); err != nil {
			return err
		}
	}
	return s.writeFile(x)
}

// spill moves the samples held so far into a new temporary file.
func (s *sink) spill() error {
	f, err := os.CreateTemp(s.dir, "whospoke-audio-*.f32")
	if err != nil {
		return fmt.Errorf("creating spill file: %w", err)
	}
	s.f = f
	mem := s.mem
	s.mem = nil
	return s.writeFile(mem)
}

func (s *sink) writeFile(x []float32) error {
	for len(x) > 0 {
		k := min(len(x), 16<<10)
		if cap(s.enc) < 4*k {
			s.enc = make([]byte, 4*(16<<10))
		}
		b := s.enc[:4*k]
		for i, v := range x[:k] {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if _, err := s.f.Write(b); err != nil {
			return fmt.Errorf("writing spill file: %w", err)
		}
		x = x[k:]
	}
	return nil
}

// finish hands the samples over as an Audio; the sink must not be used after.
func (s *sink) finish() (*Audio, error) {
	if s.n < 2 {
		return nil, fmt.Errorf("%w: %d samples decoded", ErrTooShort, s.n)
	}
	a := &Audio{n: s.n, mem: s.mem, f: s.f}
	s.mem, s.f = nil, nil
	return a, nil
}

// abort discards whatever was collected, removing the spill file.
func (s *sink) abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
	s.mem = nil
}

// decodeF32 converts little-endian float32 bytes to samples.
func decodeF32(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}
