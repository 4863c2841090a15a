package audio

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"testing"
	"time"
)

func TestWAV16RoundTripExact(t *testing.T) {
	in := []int16{0, 1, -1, 32767, -32768, 1234, -4321, 0}
	fr := make([][]float64, len(in))
	for i, v := range in {
		fr[i] = []float64{float64(v) / 32768}
	}
	a := openT(t, writeFile(t, "a.wav", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: fr}.bytes()), DefaultOptions())
	got := all(t, a)
	if len(got) != len(in) {
		t.Fatalf("%d samples, want %d", len(got), len(in))
	}
	for i, v := range in {
		if want := float32(v) / 32768; got[i] != want {
			t.Errorf("sample %d = %g, want %g", i, got[i], want)
		}
	}
}

// Every natively decoded encoding gives the written signal back, within its
// quantisation step.
func TestWAVEncodings(t *testing.T) {
	x := tone(440, 16000, 1600, 0.8)
	for _, c := range []struct {
		name      string
		tag, sub  uint16
		bits      int
		tolerance float64
	}{
		{"u8", 1, 0, 8, 1.0 / 128},
		{"s16", 1, 0, 16, 1.0 / 32768},
		{"s24", 1, 0, 24, 1.0 / (1 << 23)},
		{"s32", 1, 0, 32, 1e-7},
		{"f32", 3, 0, 32, 1e-7},
		{"f64", 3, 0, 64, 1e-7},
		{"extensible s24", 0xFFFE, 1, 24, 1.0 / (1 << 23)},
		{"extensible f32", 0xFFFE, 3, 32, 1e-7},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := wavSpec{tag: c.tag, sub: c.sub, channels: 1, rate: 16000, bits: c.bits, frames: frames(x)}
			got := all(t, openT(t, writeFile(t, "a.wav", spec.bytes()), DefaultOptions()))
			if len(got) != len(x) {
				t.Fatalf("%d samples, want %d", len(got), len(x))
			}
			for i := range x {
				if d := math.Abs(float64(got[i]) - x[i]); d > c.tolerance {
					t.Fatalf("sample %d = %g, want %g (off by %g)", i, got[i], x[i], d)
				}
			}
		})
	}
}

func TestWAVChannels(t *testing.T) {
	left, right := tone(440, 16000, 16000, 0.5), tone(1000, 16000, 16000, 0.5)
	for _, bits := range []int{16, 24} {
		path := writeFile(t, "stereo.wav", wavSpec{tag: 1, channels: 2, rate: 16000, bits: bits, frames: frames(left, right)}.bytes())
		mix := all(t, openT(t, path, DefaultOptions()))
		if s1, s2 := toneShare(mix, 440), toneShare(mix, 1000); math.Abs(s1-0.5) > 0.02 || math.Abs(s2-0.5) > 0.02 {
			t.Errorf("%d-bit down-mix: 440 Hz share %.3f, 1000 Hz share %.3f; want 0.5 each", bits, s1, s2)
		}
		if r := rms(mix); math.Abs(r-0.5/math.Sqrt2/math.Sqrt2) > 0.01 {
			t.Errorf("%d-bit down-mix RMS %.3f, want the average of the channels (0.25)", bits, r)
		}
		for ch, freq := range []float64{440, 1000} {
			opt := DefaultOptions()
			opt.Channel = ch
			got := all(t, openT(t, path, opt))
			if s := toneShare(got, freq); s < 0.99 {
				t.Errorf("%d-bit channel %d: %.0f Hz share %.3f, want ~1", bits, ch, freq, s)
			}
		}
		for _, ch := range []int{2, -2} {
			opt := DefaultOptions()
			opt.Channel = ch
			if _, err := Open(context.Background(), path, opt); !errors.Is(err, ErrBadChannel) {
				t.Errorf("channel %d: %v, want ErrBadChannel", ch, err)
			}
		}
	}
}

// Six channels, channel 4 picked: the index counts in whole frames.
func TestWAVManyChannels(t *testing.T) {
	var chans [][]float64
	for c := range 6 {
		chans = append(chans, tone(300+200*float64(c), 16000, 8000, 0.5))
	}
	opt := DefaultOptions()
	opt.Channel = 4
	got := all(t, openT(t, writeFile(t, "6ch.wav", wavSpec{tag: 3, channels: 6, rate: 16000, bits: 32, frames: frames(chans...)}.bytes()), opt))
	if s := toneShare(got, 1100); s < 0.99 {
		t.Errorf("channel 4: 1100 Hz share %.3f", s)
	}
}

func TestWAVLayout(t *testing.T) {
	x := tone(440, 16000, 1001, 0.5)
	base := wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: frames(x)}
	whole := len(x)
	for _, c := range []struct {
		name string
		edit func(*wavSpec)
		want int
	}{
		{"LIST before fmt", func(w *wavSpec) { w.before = [][]byte{chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00test\x00"))} }, whole},
		{"odd chunks between fmt and data", func(w *wavSpec) {
			w.between = [][]byte{chunk("junk", []byte{1, 2, 3}), chunk("fact", le32(1001)), chunk("odd!", []byte{9})}
		}, whole},
		{"chunk after data", func(w *wavSpec) { w.after = chunk("LIST", bytes.Repeat([]byte{0x7f}, 100)) }, whole},
		{"streaming size 0xFFFFFFFF", func(w *wavSpec) { w.dataSize = 0xFFFFFFFF }, whole},
		{"size beyond the file", func(w *wavSpec) { w.dataSize = 1 << 30 }, whole},
		{"size shorter than the data", func(w *wavSpec) { w.dataSize = 200 }, 100},
		{"odd size cuts a sample", func(w *wavSpec) { w.dataSize = 201 }, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := base
			c.edit(&w)
			got := all(t, openT(t, writeFile(t, "a.wav", w.bytes()), DefaultOptions()))
			if len(got) != c.want {
				t.Fatalf("%d samples, want %d", len(got), c.want)
			}
			for i := range got {
				if want := float32(quant(x[i], 32768)) / 32768; got[i] != want {
					t.Fatalf("sample %d = %g, want %g", i, got[i], want)
				}
			}
		})
	}
}

// A data chunk cut mid-frame keeps the whole frames before the cut.
func TestWAVCutMidFrame(t *testing.T) {
	left, right := tone(440, 16000, 100, 0.5), tone(1000, 16000, 100, 0.5)
	b := wavSpec{tag: 1, channels: 2, rate: 16000, bits: 24, frames: frames(left, right)}.bytes()
	a := openT(t, writeFile(t, "cut.wav", b[:len(b)-4]), DefaultOptions())
	if a.Len() != 99 {
		t.Errorf("Len = %d, want 99", a.Len())
	}
}

// RF64, as written by recorders for files over 4 GiB: the data size lives in
// the ds64 chunk.
func TestRF64(t *testing.T) {
	x := tone(440, 16000, 500, 0.5)
	w := wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: frames(x), dataSize: 0xFFFFFFFF}
	ds64 := append(make([]byte, 8), le32(600)...) // data: 300 samples
	ds64 = append(ds64, make([]byte, 16)...)
	w.before = [][]byte{chunk("ds64", ds64)}
	w.after = chunk("LIST", make([]byte, 64))
	b := w.bytes()
	copy(b, "RF64")
	if n := openT(t, writeFile(t, "a.wav", b), DefaultOptions()).Len(); n != 300 {
		t.Errorf("Len = %d, want the 300 samples ds64 declares", n)
	}
}

func TestWAVResample(t *testing.T) {
	for _, c := range []struct {
		rate int
		freq float64
	}{
		{8000, 1000}, {8000, 3000}, {11025, 2000}, {22050, 440}, {44100, 1000}, {44100, 5000}, {48000, 440}, {96000, 6000}, {44056, 1000},
	} {
		n := 2 * c.rate // 2 s
		path := writeFile(t, "a.wav", wavSpec{tag: 1, channels: 1, rate: c.rate, bits: 16, frames: frames(tone(c.freq, c.rate, n, 0.5))}.bytes())
		got := all(t, openT(t, path, DefaultOptions()))
		if want := 32000; abs(len(got)-want) > 1 {
			t.Errorf("%d Hz: %d samples, want %d", c.rate, len(got), want)
		}
		mid := got[1600 : len(got)-1600] // away from the edge transients
		if f := zeroCrossingFreq(mid); math.Abs(f-c.freq) > c.freq*0.002+1 {
			t.Errorf("%d Hz: %.0f Hz tone came out at %.1f Hz", c.rate, c.freq, f)
		}
		if s := toneShare(mid, c.freq); s < 0.999 {
			t.Errorf("%d Hz: only %.4f of the energy at %.0f Hz", c.rate, s, c.freq)
		}
		if r := rms(mid); math.Abs(r-0.5/math.Sqrt2) > 0.005 {
			t.Errorf("%d Hz: RMS %.4f, want %.4f (level kept)", c.rate, r, 0.5/math.Sqrt2)
		}
	}
}

// Above 8 kHz nothing can be represented at 16 kHz: a tone there must be
// filtered out, not folded back into the speech band.
func TestResampleAntiAliasing(t *testing.T) {
	for _, c := range []struct {
		rate int
		freq float64
	}{{44100, 12000}, {48000, 9000}, {48000, 20000}} {
		path := writeFile(t, "a.wav", wavSpec{tag: 3, channels: 1, rate: c.rate, bits: 32, frames: frames(tone(c.freq, c.rate, c.rate, 0.5))}.bytes())
		got := all(t, openT(t, path, DefaultOptions()))
		if db := 20 * math.Log10(rms(got[800:len(got)-800])/(0.5/math.Sqrt2)); db > -50 {
			t.Errorf("%d Hz input, %.0f Hz tone: output at %.1f dB, want below -50 dB", c.rate, c.freq, db)
		}
	}
}

// Fed in blocks of any size, the resampler gives the same output as in one go.
func TestResamplerBlocks(t *testing.T) {
	x := make([]float32, 10000)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.05))
	}
	run := func(block int) []float32 {
		r := newResampler(44100, 16000)
		var out []float32
		for i := 0; i < len(x); i += block {
			out = append(out, r.process(x[i:min(i+block, len(x))])...)
		}
		return append(out, r.flush()...)
	}
	want := run(len(x))
	for _, block := range []int{1, 7, 441, 4096} {
		got := run(block)
		if len(got) != len(want) {
			t.Fatalf("block %d: %d samples, want %d", block, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("block %d: sample %d = %g, want %g", block, i, got[i], want[i])
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

func TestWAVErrors(t *testing.T) {
	good := wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: frames(tone(440, 16000, 100, 0.5))}.bytes()
	noData := append([]byte("RIFF\x00\x00\x00\x00WAVE"), chunk("fmt ", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16}.fmtBody())...)
	withFmt := func(w wavSpec) []byte { w.frames = frames(tone(440, 16000, 100, 0.5)); return w.bytes() }
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"RIFF only", []byte("RIFF"), ErrTruncated},
		{"cut inside fmt", good[:20], ErrTruncated},
		{"cut after fmt", good[:36], ErrTruncated},
		{"cut in data header", good[:40], ErrTruncated},
		{"no data chunk", noData, ErrTruncated},
		{"chunk cut before data", append(noData, chunk("LIST", make([]byte, 10))[:8]...), ErrTruncated},
		{"data before fmt", append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00\x01\x02\x03\x04"), chunk("fmt ", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16}.fmtBody())...), ErrNotAudio},
		{"no samples", good[:44], ErrTooShort},
		{"one sample", good[:46], ErrTooShort},
		{"zero channels", withFmt(wavSpec{tag: 1, channels: 0, rate: 16000, bits: 16}), ErrNotAudio},
		{"zero rate", withFmt(wavSpec{tag: 1, channels: 1, rate: 0, bits: 16}), ErrNotAudio},
		{"short fmt", append([]byte("RIFF\x00\x00\x00\x00WAVE"), chunk("fmt ", []byte{1, 0, 1, 0})...), ErrNotAudio},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "bad.wav", c.data)
			a, err := Open(context.Background(), path, DefaultOptions())
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if a != nil {
				t.Error("non-nil Audio with an error")
			}
			if !bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if a := openT(t, writeFile(t, "two.wav", good[:48]), DefaultOptions()); a.Len() != 2 {
		t.Errorf("two samples: Len %d", a.Len())
	}
}

func TestWAVSilenceIsFine(t *testing.T) {
	a := openT(t, writeFile(t, "quiet.wav", wavSpec{tag: 1, channels: 1, rate: 8000, bits: 16, frames: frames(make([]float64, 8000))}.bytes()), DefaultOptions())
	if a.Len() != 16000 || rms(all(t, a)) != 0 {
		t.Errorf("silence: Len %d, RMS %g", a.Len(), rms(all(t, a)))
	}
}

func TestWAVMaxDuration(t *testing.T) {
	path := writeFile(t, "3s.wav", wavSpec{tag: 1, channels: 1, rate: 44100, bits: 16, frames: frames(make([]float64, 3*44100))}.bytes())
	opt := DefaultOptions()
	opt.MaxDuration = 2 * time.Second
	if _, err := Open(context.Background(), path, opt); !errors.Is(err, ErrTooLong) {
		t.Errorf("3 s file, 2 s limit: %v, want ErrTooLong", err)
	}
	opt.MaxDuration = 3 * time.Second
	if a := openT(t, path, opt); a.Len() != 48000 {
		t.Errorf("3 s file, 3 s limit: Len %d", a.Len())
	}
}

// A native WAV needs no ffmpeg; anything else says ffmpeg is needed.
func TestWithoutFFmpeg(t *testing.T) {
	t.Setenv("WHOSPOKE_FFMPEG", "/nonexistent/ffmpeg")
	t.Setenv("PATH", "")
	x := frames(tone(440, 16000, 1000, 0.5))
	if a := openT(t, writeFile(t, "a.wav", wavSpec{tag: 1, channels: 1, rate: 44100, bits: 16, frames: x}.bytes()), DefaultOptions()); a.Len() == 0 {
		t.Error("native WAV did not decode")
	}
	alaw := wavSpec{tag: 6, channels: 1, rate: 8000, bits: 8, frames: x}.bytes()
	for _, b := range [][]byte{alaw, []byte("fLaC not really")} {
		if _, err := Open(context.Background(), writeFile(t, "x", b), DefaultOptions()); !errors.Is(err, ErrNoFFmpeg) {
			t.Errorf("got %v, want ErrNoFFmpeg", err)
		}
	}
}

func TestOpenMissingFile(t *testing.T) {
	if _, err := Open(context.Background(), "/nonexistent/a.wav", DefaultOptions()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
	for _, p := range []string{t.TempDir(), os.DevNull} {
		if _, err := Open(context.Background(), p, DefaultOptions()); !errors.Is(err, ErrNotAudio) {
			t.Errorf("%s: got %v, want ErrNotAudio", p, err)
		}
	}
}

func TestWAVCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := writeFile(t, "a.wav", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: frames(make([]float64, 1000))}.bytes())
	if _, err := Open(ctx, path, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// Decoding allocates per call, not per sample or per block.
func TestWAVDecodeAllocations(t *testing.T) {
	b := wavSpec{tag: 1, channels: 2, rate: 16000, bits: 16, raw: make([]byte, 60*16000*4)}.bytes()
	allocs := testing.AllocsPerRun(5, func() {
		s := newSink(DefaultOptions())
		if err := decodeWAV(context.Background(), bytes.NewReader(b), int64(len(b)), DefaultOptions(), s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("%.0f allocations to decode 60 s", allocs)
	}
}

// sentinels are the errors decodeWAV may return on any input.
var sentinels = []error{ErrTruncated, ErrNotAudio, ErrTooLong, ErrBadChannel, errNotNative}

func FuzzWAV(f *testing.F) {
	x := frames(tone(440, 16000, 64, 0.5), tone(880, 16000, 64, 0.5))
	f.Add(wavSpec{tag: 1, channels: 2, rate: 16000, bits: 16, frames: x}.bytes())
	f.Add(wavSpec{tag: 0xFFFE, sub: 3, channels: 2, rate: 48000, bits: 32, frames: x}.bytes())
	f.Add(wavSpec{tag: 1, channels: 2, rate: 8000, bits: 24, frames: x, dataSize: 0xFFFFFFFF}.bytes())
	f.Add(wavSpec{tag: 1, channels: 2, rate: 16000, bits: 8, frames: x, between: [][]byte{chunk("odd!", []byte{1})}}.bytes()[:50])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt "))
	f.Add([]byte("RIFF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ch := range []int{-1, 1} {
			opt := DefaultOptions()
			opt.Channel = ch
			s := newSink(opt)
			err := decodeWAV(context.Background(), bytes.NewReader(b), int64(len(b)), opt, s)
			if err == nil {
				// Nothing comes out longer than the input allows: at the
				// lowest native rate, 1-byte frames, 16 samples each.
				if s.n > int64(len(b))*SampleRate/minNativeRate+1 {
					t.Fatalf("%d samples from %d bytes", s.n, len(b))
				}
				continue
			}
			known := false
			for _, e := range sentinels {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("unclassified error: %v", err)
			}
		}
	})
}

func BenchmarkDecodeWAV16Hour(b *testing.B) {
	// One hour of 16-bit mono at 16 kHz, written once: 115 MB.
	path := writeFile(b, "hour.wav", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, raw: tone16(440, 16000, 3600*16000)}.bytes())
	opt := DefaultOptions()
	opt.TempDir = b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		a, err := Open(context.Background(), path, opt)
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}

func BenchmarkResample44k(b *testing.B) {
	x := make([]float32, 44100)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.05))
	}
	r := newResampler(44100, 16000)
	b.SetBytes(4 * 44100)
	for b.Loop() {
		r.process(x)
	}
}
