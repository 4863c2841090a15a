package audio

import "math"

// Resampler design. Output sample j sits at input time t = j·M/L (L/M is the
// rate ratio in lowest terms) and is the dot product of the input around t
// with a Kaiser-windowed sinc whose cutoff is below both Nyquist rates, so
// downsampling cannot alias. The kernel is tabulated for every fractional
// position t mod 1 that occurs (L phases); for ratios whose L is huge (odd
// rates such as 44056 Hz) the table holds maxPhases phases and t is rounded
// to the nearest, a timing error under 1/(2·maxPhases) of an input sample.
const (
	maxPhases = 1024
	// zeroCrossings of the sinc on each side of the centre, counted at the
	// lower of the two rates: the filter length, hence its sharpness.
	zeroCrossings = 16
	// rolloff puts the cutoff at 90 % of the lower Nyquist rate (7.2 kHz
	// when producing 16 kHz), leaving room for the transition band.
	rolloff = 0.9
	// kaiserBeta gives about 60 dB of stop-band attenuation.
	kaiserBeta = 6.0
)

// resampler converts a stream from one rate to another. It carries its state
// across process calls, so a long input can be fed block by block.
type resampler struct {
	l, m   int64       // ratio out/in in lowest terms
	phases int64       // rows of table
	taps   int         // kernel length
	table  [][]float32 // table[p] is the kernel for fractional position p/phases
	buf    []float32   // input history: buf[0] is input sample base
	base   int64
	in     int64 // input samples received
	pos    int64 // integer part of the next output's input time
	frac   int64 // fractional part of it, in units of 1/l
	out    []float32
}

func newResampler(inRate, outRate int) *resampler {
	g := gcd(inRate, outRate)
	r := &resampler{l: int64(outRate / g), m: int64(inRate / g)}
	r.phases = min(r.l, maxPhases)
	// Cutoff in cycles per input sample; the kernel reaches out to the
	// sinc's zeroCrossings-th zero on each side.
	fc := 0.5 * rolloff * min(1, float64(r.l)/float64(r.m))
	half := int(math.Ceil(zeroCrossings / (2 * fc)))
	r.taps = 2 * half
	r.table = make([][]float32, r.phases)
	norm := besselI0(kaiserBeta)
	k := make([]float64, r.taps)
	for p := range r.table {
		row := make([]float32, r.taps)
		frac := float64(p) / float64(r.phases)
		var sum float64
		for i := range k {
			// Tap i multiplies input sample pos-half+1+i, at distance d from t.
			d := frac + float64(half-1-i)
			k[i] = 0
			if x := d / float64(half); x > -1 && x < 1 {
				k[i] = 2 * fc * sinc(2*fc*d) * besselI0(kaiserBeta*math.Sqrt(1-x*x)) / norm
			}
			sum += k[i]
		}
		// Unit gain at DC for every phase, so that a constant input stays
		// constant instead of rippling with the phase.
		for i := range row {
			row[i] = float32(k[i] / sum)
		}
		r.table[p] = row
	}
	// History starts with half-1 zeros so the first output can be centred on
	// input sample 0, keeping output and input aligned in time.
	r.buf = make([]float32, half-1)
	r.base = -int64(half - 1)
	return r
}

// process consumes x and returns the outputs that became computable. The
// result is reused by the next call.
func (r *resampler) process(x []float32) []float32 {
	r.buf = append(r.buf, x...)
	r.in += int64(len(x))
	return r.emit(r.in)
}

// flush pads the input with silence and returns the remaining outputs: those
// whose time falls before the end of the input, ceil(in·L/M) in all.
func (r *resampler) flush() []float32 {
	end := r.in
	// One zero more than half a kernel, for a last output whose position
	// rounds up to the next input sample.
	r.buf = append(r.buf, make([]float32, r.taps/2+1)...)
	return r.emit(end)
}

// emit computes outputs while their kernel lies inside the history and their
// time is before end, then drops history no later output needs.
func (r *resampler) emit(end int64) []float32 {
	half := int64(r.taps / 2)
	have := r.base + int64(len(r.buf)) // one past the last buffered sample
	r.out = r.out[:0]
	for r.pos < end {
		// Round the position to the nearest tabulated phase.
		p := (r.frac*r.phases + r.l/2) / r.l
		pos := r.pos
		if p == r.phases {
			p, pos = 0, pos+1
		}
		if pos+half >= have {
			break
		}
		start := int(pos - half + 1 - r.base)
		r.out = append(r.out, dot(r.table[p], r.buf[start:start+r.taps]))
		r.frac += r.m
		r.pos += r.frac / r.l
		r.frac %= r.l
	}
	// Keep the samples from the next output's first tap on.
	if drop := int(r.pos - half + 1 - r.base); drop > 0 {
		drop = min(drop, len(r.buf))
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
		r.base += int64(drop)
	}
	return r.out
}

// dot is the filter's inner loop, unrolled because it is where resampling
// spends its time.
func dot(h, x []float32) float32 {
	x = x[:len(h)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+3 < len(h); i += 4 {
		s0 += h[i] * x[i]
		s1 += h[i+1] * x[i+1]
		s2 += h[i+2] * x[i+2]
		s3 += h[i+3] * x[i+3]
	}
	for ; i < len(h); i++ {
		s0 += h[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of order 0, by its power series,
// which converges quickly for the arguments of a Kaiser window.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; term > 1e-12*sum; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Resampler converts a stream arriving in blocks (a live socket's audio) from
// one rate to another, carrying the filter's state across blocks so that
// block edges leave no clicks. It is not safe for concurrent use.
type Resampler struct{ r *resampler }

// NewResampler converts from inRate to outRate (Hz).
func NewResampler(inRate, outRate int) *Resampler {
	return &Resampler{r: newResampler(inRate, outRate)}
}

// Process consumes x and returns the output samples that became
// computable; the result is reused by the next call.
func (r *Resampler) Process(x []float32) []float32 { return r.r.process(x) }
