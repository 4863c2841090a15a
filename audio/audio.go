// Package audio loads any audio or video file as 16 kHz mono float32 samples,
// the one input format of the diarization pipeline. RIFF/WAVE files are
// decoded natively (and resampled in Go when needed); everything else goes
// through ffmpeg. Long recordings spill to a temporary file so that a 24 h
// input costs page cache, not resident memory.
package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// SampleRate is the rate of every decoded Audio, in Hz.
const SampleRate = 16000

// Errors returned by Open, wrapped with the file name and detail; test them
// with errors.Is.
var (
	ErrEmpty      = errors.New("file is empty")
	ErrNotAudio   = errors.New("no audio stream found")
	ErrTruncated  = errors.New("file is truncated")
	ErrTooShort   = errors.New("audio is too short")
	ErrTooLong    = errors.New("audio is longer than the maximum duration")
	ErrBadChannel = errors.New("no such channel")
	ErrNoFFmpeg   = errors.New("ffmpeg is needed to decode this file but was not found (install ffmpeg or set WHOSPOKE_FFMPEG)")
)

// DefaultMaxDuration is the longest input Open accepts unless told otherwise.
const DefaultMaxDuration = 24 * time.Hour

// defaultSpillAfter keeps up to 10 minutes (38 MB) of samples in memory;
// longer audio goes to a temporary file.
const defaultSpillAfter = 10 * 60 * SampleRate

// Options controls Open. Start from DefaultOptions: the zero value picks
// channel 0 rather than down-mixing.
type Options struct {
	// Channel selects the input channel: -1 down-mixes all channels (the
	// average), N >= 0 keeps channel N only.
	Channel int
	// MaxDuration rejects longer input with ErrTooLong; 0 or less means
	// DefaultMaxDuration.
	MaxDuration time.Duration
	// TempDir holds the spill file of long audio; "" means os.TempDir().
	TempDir string

	// spillAfter overrides defaultSpillAfter (in samples) so tests can
	// exercise the spill path with short files.
	spillAfter int64
}

// DefaultOptions down-mixes all channels and accepts up to 24 h.
func DefaultOptions() Options {
	return Options{Channel: -1, MaxDuration: DefaultMaxDuration}
}

// maxSamples is the largest sample count that MaxDuration allows.
func (o Options) maxSamples() int64 {
	d := o.MaxDuration
	if d <= 0 {
		d = DefaultMaxDuration
	}
	return int64(d.Seconds() * SampleRate)
}

// Audio is decoded 16 kHz mono audio with random access. Short audio lives in
// memory; long audio lives in a temporary file that Close removes. ReadAt and
// Samples may be called concurrently with each other, not with Close.
type Audio struct {
	n    int64
	mem  []float32 // the samples, unless they were spilled to f
	f    *os.File  // spill file, nil for in-memory audio
	once sync.Once
	cerr error
}

// FromSamples wraps 16 kHz mono samples without copying them; the caller must
// not modify s afterwards.
func FromSamples(s []float32) *Audio {
	return &Audio{n: int64(len(s)), mem: s}
}

// Len is the number of samples.
func (a *Audio) Len() int64 { return a.n }

// Duration is the length in seconds.
func (a *Audio) Duration() float64 { return float64(a.n) / SampleRate }

// SampleRate is always 16000.
func (a *Audio) SampleRate() int { return SampleRate }

// bytePool holds the scratch buffers ReadAt decodes spilled samples through,
// so that reading allocates nothing in steady state.
var bytePool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// ReadAt fills dst with the samples starting at off, following io.ReaderAt:
// when fewer than len(dst) samples remain it returns how many it read and
// io.EOF.
func (a *Audio) ReadAt(dst []float32, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("audio: negative offset %d", off)
	}
	if off >= a.n {
		return 0, io.EOF
	}
	n := len(dst)
	if rest := a.n - off; int64(n) > rest {
		n = int(rest)
	}
	if a.f == nil {
		if a.mem == nil && a.n > 0 {
			return 0, fs.ErrClosed
		}
		copy(dst[:n], a.mem[off:])
	} else if err := a.readFile(dst[:n], off); err != nil {
		return 0, err
	}
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (a *Audio) readFile(dst []float32, off int64) error {
	bp := bytePool.Get().(*[]byte)
	defer bytePool.Put(bp)
	buf := *bp
	for len(dst) > 0 {
		k := min(len(dst), len(buf)/4)
		b := buf[:4*k]
		if _, err := a.f.ReadAt(b, 4*off); err != nil {
			// The file holds exactly Len samples, so even io.EOF here
			// means it changed underneath us.
			return fmt.Errorf("audio: reading spill file: %w", err)
		}
		decodeF32(dst[:k], b)
		dst, off = dst[k:], off+int64(k)
	}
	return nil
}

// Samples returns a fresh copy of the samples in [off, off+n), cut short at
// the end of the audio.
func (a *Audio) Samples(off, n int64) ([]float32, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("audio: bad range off=%d n=%d", off, n)
	}
	if off >= a.n {
		return []float32{}, nil
	}
	out := make([]float32, min(n, a.n-off))
	if _, err := a.ReadAt(out, off); err != nil && err != io.EOF {
		return nil, err
	}
	return out, nil
}

// Close releases the samples and removes the spill file, if any. Later reads
// fail; later Closes return the first result.
func (a *Audio) Close() error {
	a.once.Do(func() {
		a.mem = nil
		if a.f != nil {
			a.cerr = errors.Join(a.f.Close(), os.Remove(a.f.Name()))
		}
	})
	return a.cerr
}

// Open decodes the first audio stream of the file at path into 16 kHz mono.
// Cancelling ctx stops the decoder. The caller must Close the result.
//
// Errors name the file and wrap one of the Err values, except for I/O errors
// and an ffmpeg that fails after decoding part of the file. A WAV whose
// header is cut short is ErrTruncated; one whose data is merely shorter than
// its header says yields the whole frames present. Silence is not an error.
func Open(ctx context.Context, path string, opt Options) (*Audio, error) {
	if opt.Channel < -1 {
		return nil, fmt.Errorf("%s: %w: channel %d (use -1 to down-mix)", path, ErrBadChannel, opt.Channel)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		// Directories, devices and pipes: nothing ffmpeg could seek in,
		// and /dev/zero would never end.
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrNotAudio)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}

	s := newSink(opt)
	err = decodeWAV(ctx, f, st.Size(), opt, s)
	if errors.Is(err, errNotNative) {
		err = decodeFFmpeg(ctx, path, opt, s)
	}
	if err == nil {
		var a *Audio
		if a, err = s.finish(); err == nil {
			return a, nil
		}
	}
	s.abort()
	return nil, fmt.Errorf("%s: %w", path, err)
}
