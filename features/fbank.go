// Package features computes the input features of the CAM++ speaker-embedding
// model: Kaldi 80-bin log-mel filterbanks of 16 kHz audio, equal to
// torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80,
// sample_frequency=16000, dither=0) on float samples in [-1, 1], plus the
// per-segment mean subtraction the model expects.
package features

import (
	"math"
	"slices"
)

const (
	// NumMelBins is the number of mel filters, and values per frame.
	NumMelBins = 80
	// FrameLength is the frame (window) length in samples: 25 ms at 16 kHz.
	FrameLength = 400
	// FrameShift is the hop between frame starts in samples: 10 ms at 16 kHz.
	FrameShift = 160
	// SampleRate is the sample rate, in Hz, the front end is defined for.
	SampleRate = 16000
)

const (
	fftSize  = 512         // FrameLength rounded up to a power of two
	fftHalf  = fftSize / 2 // complex points the real FFT is packed into
	preemph  = 0.97
	lowFreq  = 20.0
	highFreq = SampleRate / 2
	// logFloor is float32 machine epsilon, torchaudio's floor before the log.
	logFloor = 1.1920928955078125e-07
)

// Fbank holds the precomputed tables of the front end. It is read-only after
// NewFbank, so one Fbank may be shared by any number of goroutines; each
// Compute call keeps its scratch on its own stack.
type Fbank struct {
	window [FrameLength]float64
	// bitrev[n] is where packed complex sample n goes so the in-place FFT
	// reads its input in bit-reversed order.
	bitrev [fftHalf]uint8
	// stageTw[h+j] = exp(-2πi·j/(2h)) for butterfly half-size h = 4…128,
	// so each FFT stage reads its twiddles contiguously.
	stageTwRe, stageTwIm [fftHalf]float64
	// splitTw[k] = exp(-2πi·k/512): untangles the 512-point real spectrum
	// from the 256-point complex FFT of the even/odd packed samples.
	splitTwRe, splitTwIm [fftHalf]float64
	// Mel filters, sparse: filter b weighs power bins
	// melStart[b] … melStart[b]+len-1 with melW[melOff[b]:melOff[b+1]].
	melStart [NumMelBins]int
	melOff   [NumMelBins + 1]int
	melW     []float64
}

// NewFbank builds the window, FFT and mel tables.
func NewFbank() *Fbank {
	f := &Fbank{}
	for i := range f.window {
		// Povey window: a Hann window (symmetric, over FrameLength-1) to the 0.85.
		f.window[i] = math.Pow(0.5-0.5*math.Cos(2*math.Pi*float64(i)/(FrameLength-1)), 0.85)
	}
	for n := range f.bitrev {
		f.bitrev[n] = reverseBits8(uint8(n))
	}
	for h := 4; h < fftHalf; h <<= 1 {
		for j := range h {
			s, c := math.Sincos(-2 * math.Pi * float64(j) / float64(2*h))
			f.stageTwRe[h+j], f.stageTwIm[h+j] = c, s
		}
	}
	for k := range fftHalf {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / fftSize)
		f.splitTwRe[k], f.splitTwIm[k] = c, s
	}
	f.buildMel()
	return f
}

func reverseBits8(x uint8) uint8 {
	var r uint8
	for range 8 {
		r = r<<1 | x&1
		x >>= 1
	}
	return r
}

func melScale(hz float64) float64 { return 1127 * math.Log(1+hz/700) }

// buildMel makes Kaldi's triangles: equally spaced in mel from 20 Hz to
// 8 kHz, evaluated at each FFT bin's mel value, not area-normalised. Bins 0
// (0 Hz) and 256 (Nyquist) are outside every triangle.
func (f *Fbank) buildMel() {
	const binHz = float64(SampleRate) / fftSize
	melLow := melScale(lowFreq)
	delta := (melScale(highFreq) - melLow) / (NumMelBins + 1)
	for b := range NumMelBins {
		left := melLow + float64(b)*delta
		center := left + delta
		right := left + 2*delta
		first := true
		for k := range fftHalf {
			m := melScale(binHz * float64(k))
			w := min((m-left)/(center-left), (right-m)/(right-center))
			if w <= 0 {
				continue
			}
			if first {
				f.melStart[b], first = k, false
			}
			// The FFT's split step leaves every bin at 2× amplitude, so
			// 4× power; folding the 1/4 in here saves a multiply per bin.
			f.melW = append(f.melW, 0.25*w)
		}
		f.melOff[b+1] = len(f.melW)
	}
}

// NumFrames returns how many frames Compute makes from numSamples samples:
// only frames that fit entirely (Kaldi's snip_edges).
func (f *Fbank) NumFrames(numSamples int) int {
	if numSamples < FrameLength {
		return 0
	}
	return 1 + (numSamples-FrameLength)/FrameShift
}

// frameScratch is one frame's working memory; Compute keeps it on its stack.
type frameScratch struct {
	re, im [fftHalf]float64
	power  [fftHalf]float64 // bins 0…255; bin 256 has no mel weight
}

// Compute appends NumFrames(len(samples))×NumMelBins log-mel energies, frame
// by frame, to dst and returns the extended slice. Samples are 16 kHz mono
// in [-1, 1] (int16/32768). Frame i starts at sample i·FrameShift, so a long
// signal can be done in pieces: a piece starting at sample k·FrameShift
// yields frames k, k+1, …, and each piece must overlap the next by
// FrameLength−FrameShift samples for no frame to be lost.
func (f *Fbank) Compute(samples []float32, dst []float32) []float32 {
	n := f.NumFrames(len(samples))
	if n == 0 {
		return dst
	}
	out := len(dst)
	dst = slices.Grow(dst, n*NumMelBins)[:out+n*NumMelBins]
	var s frameScratch
	for i := range n {
		frame := (*[FrameLength]float32)(samples[i*FrameShift:])
		f.frame(frame, &s, (*[NumMelBins]float32)(dst[out+i*NumMelBins:]))
	}
	return dst
}

// frame turns one frame of samples into its NumMelBins log-mel energies.
func (f *Fbank) frame(x *[FrameLength]float32, s *frameScratch, out *[NumMelBins]float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / FrameLength

	// DC removal, pre-emphasis (the first sample is its own predecessor)
	// and the window, packed as complex points z[n] = w[2n] + i·w[2n+1] in
	// bit-reversed order for the FFT; z[200…255] are the zero padding.
	prev := float64(x[0]) - mean
	for n := range FrameLength / 2 {
		a := float64(x[2*n]) - mean
		b := float64(x[2*n+1]) - mean
		p := f.bitrev[n]
		s.re[p] = (a - preemph*prev) * f.window[2*n]
		s.im[p] = (b - preemph*a) * f.window[2*n+1]
		prev = b
	}
	for n := FrameLength / 2; n < fftHalf; n++ {
		p := f.bitrev[n]
		s.re[p], s.im[p] = 0, 0
	}
	f.fft(&s.re, &s.im)

	// Split: with Z the FFT of z, the real 512-point spectrum is
	// X[k] = E[k] + W^k·O[k], E = (Z[k] + conj Z[256−k])/2,
	// O = (Z[k] − conj Z[256−k])/2i, W = exp(−2πi/512). The /2s are left
	// out here and folded into the mel weights.
	for k := 1; k < fftHalf; k++ {
		a, b := s.re[k], s.im[k]
		c, d := s.re[fftHalf-k], s.im[fftHalf-k]
		er, ei := a+c, b-d
		or, oi := b+d, c-a
		wr, wi := f.splitTwRe[k], f.splitTwIm[k]
		xr := er + wr*or - wi*oi
		xi := ei + wr*oi + wi*or
		s.power[k] = xr*xr + xi*xi
	}

	for b := range NumMelBins {
		w := f.melW[f.melOff[b]:f.melOff[b+1]]
		p := s.power[f.melStart[b]:]
		p = p[:len(w)]
		var e float64
		for j, wj := range w {
			e += wj * p[j]
		}
		out[b] = float32(math.Log(max(e, logFloor)))
	}
}

// fft is an in-place iterative radix-2 decimation-in-time FFT of size 256
// (forward, unscaled) on input already in bit-reversed order.
func (f *Fbank) fft(re, im *[fftHalf]float64) {
	// The first two stages have trivial twiddles (1, and 1 and −i).
	for i := 0; i < fftHalf; i += 4 {
		r0, i0 := re[i]+re[i+1], im[i]+im[i+1]
		r1, i1 := re[i]-re[i+1], im[i]-im[i+1]
		r2, i2 := re[i+2]+re[i+3], im[i+2]+im[i+3]
		r3, i3 := re[i+2]-re[i+3], im[i+2]-im[i+3]
		re[i], im[i] = r0+r2, i0+i2
		re[i+2], im[i+2] = r0-r2, i0-i2
		// (r3 + i·i3)·(−i) = i3 − i·r3
		re[i+1], im[i+1] = r1+i3, i1-r3
		re[i+3], im[i+3] = r1-i3, i1+r3
	}
	for h := 4; h < fftHalf; h <<= 1 {
		twRe := f.stageTwRe[h : 2*h]
		twIm := f.stageTwIm[h : 2*h]
		for start := 0; start < fftHalf; start += 2 * h {
			lr, li := re[start:start+h], im[start:start+h]
			hr, hi := re[start+h:start+2*h], im[start+h:start+2*h]
			for j := range lr {
				wr, wi := twRe[j], twIm[j]
				tr := hr[j]*wr - hi[j]*wi
				ti := hr[j]*wi + hi[j]*wr
				hr[j], hi[j] = lr[j]-tr, li[j]-ti
				lr[j], li[j] = lr[j]+tr, li[j]+ti
			}
		}
	}
}

// SubtractMean removes, in place, each column's mean over the rows of
// frames, a row-major matrix of rows of dim values (for Compute's output,
// dim = NumMelBins). This is the per-segment normalisation CAM++ expects;
// apply it to exactly the frames of the segment being embedded. A dim that
// is not positive or does not divide len(frames) describes no matrix, and
// frames are left untouched.
func SubtractMean(frames []float32, dim int) {
	if dim <= 0 || len(frames) == 0 || len(frames)%dim != 0 {
		return
	}
	rows := len(frames) / dim
	sums := make([]float64, dim)
	for r := 0; r < len(frames); r += dim {
		for j, v := range frames[r : r+dim] {
			sums[j] += float64(v)
		}
	}
	means := make([]float32, dim)
	for j, v := range sums {
		means[j] = float32(v / float64(rows))
	}
	for r := 0; r < len(frames); r += dim {
		row := frames[r : r+dim]
		for j := range row {
			row[j] -= means[j]
		}
	}
}
