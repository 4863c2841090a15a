package whisper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"

	"github.com/whospoke/whospoke/internal/safego"
)

// Source is random-access 16 kHz mono audio (audio.Audio satisfies it).
type Source interface {
	Len() int64
	ReadAt(dst []float32, off int64) (int, error)
}

// nBins is the number of STFT bins kept (0…NFFT/2).
const nBins = NFFT/2 + 1

// melFilters is the 80×201 mel filter bank, stored sparsely: most of each
// row is zero, and skipping the zeros makes the projection nearly free.
type melFilters struct {
	rows [NMels]struct {
		first int
		w     []float32
	}
}

func loadFilters(dir string) (*melFilters, error) {
	b, err := os.ReadFile(filepath.Join(dir, FiltersFile))
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	if len(b) != NMels*nBins*4 {
		return nil, fmt.Errorf("whisper: %s has %d bytes, want %d (80×201 float32)", FiltersFile, len(b), NMels*nBins*4)
	}
	f := &melFilters{}
	for m := range NMels {
		row := make([]float32, nBins)
		for k := range row {
			row[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(m*nBins+k):]))
		}
		lo, hi := 0, nBins
		for lo < hi && row[lo] == 0 {
			lo++
		}
		for hi > lo && row[hi-1] == 0 {
			hi--
		}
		f.rows[m].first, f.rows[m].w = lo, row[lo:hi]
	}
	return f, nil
}

// hann is the periodic Hann window 0.5 − 0.5·cos(2πn/N) torch.hann_window uses.
var hann = func() (w [NFFT]float64) {
	for n := range w {
		w[n] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/NFFT)
	}
	return
}()

// rfft400 computes the power spectrum of 400 real samples through a
// 200-point complex FFT (mixed radix 2·2·2·5·5, twiddles precomputed) and
// the usual split of even and odd samples.
type fftPlan struct {
	n       int
	factors []int
	tw      []complex128 // e^{-2πik/200}
	post    [NFFT/2 + 1]complex128
	w5      [5][5]complex128
}

var plan = func() *fftPlan {
	const m = NFFT / 2
	p := &fftPlan{n: m, factors: []int{2, 2, 2, 5, 5}, tw: make([]complex128, m)}
	for k := range p.tw {
		p.tw[k] = cmplx.Exp(complex(0, -2*math.Pi*float64(k)/m))
	}
	for k := range p.post {
		p.post[k] = cmplx.Exp(complex(0, -2*math.Pi*float64(k)/NFFT))
	}
	for a := range 5 {
		for b := range 5 {
			p.w5[a][b] = cmplx.Exp(complex(0, -2*math.Pi*float64(a*b%5)/5))
		}
	}
	return p
}()

// transform writes the DFT of in[0], in[stride], … (n values) to out.
func (p *fftPlan) transform(out, in []complex128, n, stride, level int) {
	if n == 1 {
		out[0] = in[0]
		return
	}
	r := p.factors[level]
	m := n / r
	for q := range r {
		p.transform(out[q*m:(q+1)*m], in[q*stride:], m, stride*r, level+1)
	}
	step := p.n / n // W_n^x = tw[x·step]; q·k·step < p.n, no wrap-around
	switch r {
	case 2:
		for k := range m {
			a, b := out[k], out[m+k]*p.tw[k*step]
			out[k], out[m+k] = a+b, a-b
		}
	case 5:
		var y [5]complex128
		for k := range m {
			y[0] = out[k]
			for q := 1; q < 5; q++ {
				y[q] = out[q*m+k] * p.tw[q*k*step]
			}
			for s := range 5 {
				acc := y[0]
				for q := 1; q < 5; q++ {
					acc += y[q] * p.w5[q][s]
				}
				out[s*m+k] = acc
			}
		}
	}
}

// power writes |X[k]|² for k = 0…200 of the real 400-point frame x.
func (p *fftPlan) power(x *[NFFT]float64, dst *[nBins]float64, z, Z *[NFFT / 2]complex128) {
	const m = NFFT / 2
	for i := range m {
		z[i] = complex(x[2*i], x[2*i+1])
	}
	p.transform(Z[:], z[:], m, 1, 0)
	for k := 0; k <= m; k++ {
		zk, zc := Z[k%m], cmplx.Conj(Z[(m-k)%m])
		even := (zk + zc) / 2
		odd := (zk - zc) / complex(0, 2)
		X := even + p.post[k]*odd
		dst[k] = real(X)*real(X) + imag(X)*imag(X)
	}
}

// melFrame computes the log10 mel energies of one frame of 400 samples
// (already windowed into buf) into dst.
type melScratch struct {
	z, Z  [NFFT / 2]complex128
	x     [NFFT]float64
	power [nBins]float64
}

func (f *melFilters) frame(dst []float64, samples *[NFFT]float64, s *melScratch) {
	// All in float64: openai's formula evaluated exactly (torch's own
	// float32 STFT is off by up to 1.6e-5 after normalisation).
	for i := range NFFT {
		s.x[i] = samples[i] * hann[i]
	}
	plan.power(&s.x, &s.power, &s.z, &s.Z)
	for m := range NMels {
		r := &f.rows[m]
		var acc float64
		for j, w := range r.w {
			acc += float64(w) * s.power[r.first+j]
		}
		dst[m] = math.Log10(math.Max(acc, 1e-10))
	}
}

// FrontEnd computes Whisper's log-mel input (openai's
// log_mel_spectrogram, evaluated in float64 and rounded once).
type FrontEnd struct{ filters *melFilters }

// NewFrontEnd loads the mel filters of the model in dir.
func NewFrontEnd(dir string) (*FrontEnd, error) {
	f, err := loadFilters(dir)
	if err != nil {
		return nil, err
	}
	return &FrontEnd{filters: f}, nil
}

// LogMel is the input of one 30 s window exactly as openai-whisper's
// log_mel_spectrogram(pad_or_trim(audio)) computes it: samples are padded or
// cut to 480,000, the result is 80×3000 float32, row-major (mel, frame).
func (fe *FrontEnd) LogMel(samples []float32) ([]float32, error) {
	x := make([]float32, WindowSamples)
	copy(x, samples)
	out := make([]float32, NMels*WindowFrames)
	frames, err := fe.filters.logFrames(func(i int) float32 { return reflect(x, i) }, 0, WindowFrames)
	if err != nil {
		return nil, err
	}
	normalise(frames, maxOf(frames), out, WindowFrames)
	return out, nil
}

// reflect reads x[i] with numpy "reflect" padding at both ends.
func reflect(x []float32, i int) float32 {
	n := len(x)
	if i < 0 {
		i = -i
	}
	if i >= n {
		i = 2*(n-1) - i
	}
	if i < 0 || i >= n {
		return 0
	}
	return x[i]
}

// logFrames computes log10 mel columns for frames [f0, f0+n): frame t is
// centred on sample t·160. at(i) returns sample i of the (padded) signal.
// The result is frame-major: n rows of 80. A panic on a worker goroutine
// (in at, which may read the audio) comes back as a *safego.PanicError.
func (f *melFilters) logFrames(at func(int) float32, f0, n int) ([]float64, error) {
	out := make([]float64, n*NMels)
	workers := 2
	if n < 64 {
		workers = 1
	}
	var g safego.Group
	chunk := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		g.Go(func() {
			var s melScratch
			var buf [NFFT]float64
			for t := lo; t < hi; t++ {
				c := (f0+t)*HopLength - NFFT/2
				for i := range NFFT {
					buf[i] = float64(at(c + i))
				}
				f.frame(out[t*NMels:(t+1)*NMels], &buf, &s)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// maxOf is the largest of x (−Inf if x is empty), by plain comparison: in
// the decoder's per-step loops over the vocabulary math.Max and max cost
// more than the comparison (their NaN rules).
func maxOf[T float32 | float64](x []T) T {
	m := T(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// normalise turns frame-major log10 mel rows into the model's input layout
// (mel-major, width columns): max(x, top−8), then (x+4)/4, in float64 and
// rounded once at the end as the reference does. Columns past the frames
// given stay as they are in dst.
func normalise(frames []float64, top float64, dst []float32, width int) {
	floor := top - 8
	n := len(frames) / NMels
	for t := range n {
		for m := range NMels {
			v := max(frames[t*NMels+m], floor)
			dst[m*width+t] = float32((v + 4) / 4)
		}
	}
}

// longMel computes windows of a whole recording as openai-whisper's
// transcribe does: one spectrogram of the audio followed by 30 s of zeros,
// normalised with the maximum over the whole file, sliced at the seek
// position, and zero-filled (in the normalised domain) past the window's
// content.
type longMel struct {
	filters *melFilters
	src     Source
	n       int64
	top     float64
	// cache holds the samples around the last window read.
	cacheOff int64
	cache    []float32
}

// ContentFrames is the number of mel frames of audio (openai's content_frames).
func contentFrames(n int64) int { return int(n / HopLength) }

func newLongMel(f *melFilters, src Source) (*longMel, error) {
	l := &longMel{filters: f, src: src, n: src.Len()}
	if l.n <= NFFT/2 {
		return nil, fmt.Errorf("whisper: audio too short (%d samples)", l.n)
	}
	// The file-wide maximum: frames past the audio see only zeros and give
	// log10(1e-10) = −10, which the maximum includes.
	l.top = -10
	total := contentFrames(l.n) + 2
	const block = 6000
	for f0 := 0; f0 < total; f0 += block {
		n := min(block, total-f0)
		if err := l.load(f0, n); err != nil {
			return nil, err
		}
		frames, err := l.filters.logFrames(l.at, f0, n)
		if err != nil {
			return nil, err
		}
		l.top = max(l.top, maxOf(frames))
	}
	return l, nil
}

// load caches the samples frames [f0, f0+n) need.
func (l *longMel) load(f0, n int) error {
	off := int64(f0*HopLength - NFFT/2)
	lo := max(off, 0)
	hi := min(int64((f0+n)*HopLength+NFFT/2), l.n)
	l.cacheOff = lo
	if hi <= lo {
		l.cache = l.cache[:0]
		return nil
	}
	if cap(l.cache) < int(hi-lo) {
		l.cache = make([]float32, hi-lo)
	}
	l.cache = l.cache[:hi-lo]
	got, err := l.src.ReadAt(l.cache, lo)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("whisper: reading audio: %w", err)
	}
	clear(l.cache[got:])
	return nil
}

// at is sample i of the audio with reflection before 0 and zeros after the end.
func (l *longMel) at(i int) float32 {
	j := int64(i)
	if j < 0 {
		j = -j
	}
	if j >= l.n {
		return 0
	}
	k := j - l.cacheOff
	if k < 0 || k >= int64(len(l.cache)) {
		// Outside the cache only for reflected samples near the start.
		var v [1]float32
		l.src.ReadAt(v[:], j)
		return v[0]
	}
	return l.cache[k]
}

// window returns the 80×width input for the frames [seek, seek+size),
// size ≤ width; a width under 3000 is the first width columns of the 30 s
// window (docs/MODELS.md, variable-length window).
func (l *longMel) window(seek, size, width int) ([]float32, error) {
	if err := l.load(seek, size); err != nil {
		return nil, err
	}
	frames, err := l.filters.logFrames(l.at, seek, size)
	if err != nil {
		return nil, err
	}
	out := make([]float32, NMels*width)
	normalise(frames, l.top, out, width)
	return out, nil
}
