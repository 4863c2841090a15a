package bench

import (
	"bufio"
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/audio"
)

// writeWAV16 writes x as a 16 kHz 16-bit mono WAV.
func writeWAV16(t *testing.T, path string, x []float32) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := audio.WriteWAV16Header(w, int64(len(x))); err != nil {
		t.Fatal(err)
	}
	pcm := make([]byte, 2*len(x))
	audio.PutPCM16(pcm, x)
	w.Write(pcm)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// highShare is the share of x's energy above hz, from the spectra of
// Hann-windowed 1024-sample frames (a plain DFT: the test's frames are few).
func highShare(x []float32, hz float64) float64 {
	const n = 1024
	win := make([]float64, n)
	for i := range win {
		win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
	}
	var high, total float64
	for off := 0; off+n <= len(x); off += n {
		for k := 1; k < n/2; k++ {
			var z complex128
			for i := range n {
				z += complex(win[i]*float64(x[off+i]), 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(k*i)/n))
			}
			e := real(z)*real(z) + imag(z)*imag(z)
			total += e
			if float64(k)*audio.SampleRate/n > hz {
				high += e
			}
		}
	}
	return high / total
}

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestPhoneChannel(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	// 0.5 s silence, 1 s of white noise and a 1 kHz tone, 0.5 s silence and
	// one more sample: an odd length, which the 8 kHz round trip would change.
	const sr = audio.SampleRate
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*sr+1)
	for i := sr / 2; i < 3*sr/2; i++ {
		x[i] = float32(0.4*(rng.Float64()*2-1) + 0.1*math.Sin(2*math.Pi*1000*float64(i)/sr))
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "in.wav")
	writeWAV16(t, src, x)
	ctx := context.Background()
	cache := filepath.Join(dir, "cache")
	for _, cond := range []string{Phone, Narrowband} {
		t.Run(cond, func(t *testing.T) { testChannel(t, cond, src, cache, x) })
	}
	if got, _ := conditioned(ctx, Clean, src, cache); got != src {
		t.Errorf("clean condition gave %q, want the file itself", got)
	}
	if _, err := conditioned(ctx, "radio", src, cache); err == nil {
		t.Error("an unknown condition was accepted")
	}
}

func testChannel(t *testing.T, cond, src, cache string, x []float32) {
	const sr = audio.SampleRate
	ctx := context.Background()
	out, err := conditioned(ctx, cond, src, cache)
	if err != nil {
		t.Fatal(err)
	}
	a, err := audio.Open(ctx, out, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Len() != int64(len(x)) {
		t.Fatalf("converted file has %d samples, the clean one %d", a.Len(), len(x))
	}
	y, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	speech := func(s []float32) []float32 { return s[sr/2+sr/10 : 3*sr/2-sr/10] }
	if in := highShare(speech(x), 4000); in < 0.3 {
		t.Fatalf("test signal has only %.2f of its energy above 4 kHz", in)
	}
	// Under 0.3 % of the energy above 4 kHz where the clean signal has over
	// 30 %: what is left is the resampler's transition band next to 4 kHz
	// (about 0.06 % with the 3400 Hz low-pass in front, 0.2 % without).
	if out := highShare(speech(y), 4000); out > 3e-3 {
		t.Errorf("%.4f of the converted energy lies above 4 kHz, want under 0.003", out)
	}
	// Band-limited, not lost, and still in place: the sound stays where it
	// was and the silence around it stays silent.
	if in, got := rms(speech(x)), rms(speech(y)); got < 0.5*in {
		t.Errorf("converted RMS %.3f, clean %.3f: too much lost in the voice band", got, in)
	}
	for _, s := range [][]float32{y[:sr/2-sr/100], y[3*sr/2+sr/50:]} {
		if r := rms(s); r > 0.01 {
			t.Errorf("silence around the sound has RMS %.4f after conversion", r)
		}
	}
	if r := rms(y[sr/2+sr/100 : sr/2+sr/20]); r < 0.1 {
		t.Errorf("the sound's first 40 ms have RMS %.4f after conversion: moved in time", r)
	}
	// A second call finds the cached file.
	again, err := conditioned(ctx, cond, src, cache)
	if err != nil || again != out {
		t.Errorf("second conversion gave %q, %v; want the cached %q", again, err, out)
	}
}
