package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// wavSpec describes a WAV file for the tests to write byte by byte, so that
// malformed and unusual layouts can be produced too.
type wavSpec struct {
	tag      uint16 // 1 PCM, 3 float, 0xFFFE extensible
	sub      uint16 // format tag inside an extensible GUID
	channels int
	rate     int
	bits     int
	frames   [][]float64 // frames[i][c], in [-1, 1]
	raw      []byte      // the data chunk's bytes, instead of frames
	before   [][]byte    // whole chunks (header included) before "fmt "
	between  [][]byte    // whole chunks between "fmt " and "data"
	after    []byte      // bytes after the data chunk
	dataSize int64       // declared data size; 0 means the real one
}

func chunk(id string, body []byte) []byte {
	b := append([]byte(id), le32(uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func (w wavSpec) fmtBody() []byte {
	align := w.channels * w.bits / 8
	b := le16(w.tag)
	b = append(b, le16(uint16(w.channels))...)
	b = append(b, le32(uint32(w.rate))...)
	b = append(b, le32(uint32(w.rate*align))...)
	b = append(b, le16(uint16(align))...)
	b = append(b, le16(uint16(w.bits))...)
	if w.tag == 0xFFFE {
		b = append(b, le16(22)...)
		b = append(b, le16(uint16(w.bits))...) // valid bits
		b = append(b, le32(0)...)              // channel mask
		b = append(b, le16(w.sub)...)
		b = append(b, ksGUIDTail[:]...)
	}
	return b
}

func (w wavSpec) samples() []byte {
	b := w.raw
	for _, fr := range w.frames {
		for _, v := range fr {
			switch {
			case w.tag == 3 && w.bits == 32 || w.sub == 3 && w.bits == 32:
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
			case w.tag == 3 || w.sub == 3:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			case w.bits == 8:
				b = append(b, uint8(quant(v, 128)+128))
			case w.bits == 16:
				b = binary.LittleEndian.AppendUint16(b, uint16(quant(v, 1<<15)))
			case w.bits == 24:
				q := uint32(quant(v, 1<<23))
				b = append(b, byte(q), byte(q>>8), byte(q>>16))
			case w.bits == 32:
				b = binary.LittleEndian.AppendUint32(b, uint32(quant(v, 1<<31)))
			}
		}
	}
	return b
}

// quant rounds v·scale to an integer sample, clipped to the signed range.
func quant(v float64, scale float64) int64 {
	return int64(math.Max(-scale, math.Min(scale-1, math.Round(v*scale))))
}

func (w wavSpec) bytes() []byte {
	data := w.samples()
	body := []byte("WAVE")
	for _, c := range w.before {
		body = append(body, c...)
	}
	body = append(body, chunk("fmt ", w.fmtBody())...)
	for _, c := range w.between {
		body = append(body, c...)
	}
	size := uint32(len(data))
	if w.dataSize != 0 {
		size = uint32(w.dataSize)
	}
	body = append(body, "data"...)
	body = append(body, le32(size)...)
	body = append(body, data...)
	body = append(body, w.after...)
	return append(append([]byte("RIFF"), le32(uint32(len(body)))...), body...)
}

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tone is n samples of a sine at freq Hz sampled at rate.
func tone(freq float64, rate, n int, amp float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
	}
	return x
}

// frames turns per-channel signals into frames.
func frames(chans ...[]float64) [][]float64 {
	out := make([][]float64, len(chans[0]))
	for i := range out {
		out[i] = make([]float64, len(chans))
		for c, x := range chans {
			out[i][c] = x[i]
		}
	}
	return out
}

// toneShare is the fraction of x's energy at freq Hz (Goertzel), about 1 for
// a pure tone at that frequency and about 0 for one far from it.
func toneShare(x []float32, freq float64) float64 {
	w := 2 * math.Pi * freq / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
		energy += float64(v) * float64(v)
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	return 2 * power / (float64(len(x)) * energy)
}

// zeroCrossingFreq estimates the frequency of a tone from its sign changes.
func zeroCrossingFreq(x []float32) float64 {
	n := 0
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(x)) / SampleRate)
}

// tone16 is n samples of a 16-bit mono sine at freq Hz, sampled at rate.
func tone16(freq float64, rate, n int) []byte {
	b := make([]byte, 2*n)
	for i := range n {
		v := quant(0.5*math.Sin(2*math.Pi*freq*float64(i)/float64(rate)), 1<<15)
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func rms(x []float32) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(x)))
}

func openT(t *testing.T, path string, opt Options) *Audio {
	t.Helper()
	a, err := Open(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func all(t *testing.T, a *Audio) []float32 {
	t.Helper()
	x, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestReadAtSemantics(t *testing.T) {
	a := FromSamples([]float32{1, 2, 3, 4, 5})
	if a.Len() != 5 || a.SampleRate() != 16000 || a.Duration() != 5.0/16000 {
		t.Fatalf("Len %d, SampleRate %d, Duration %g", a.Len(), a.SampleRate(), a.Duration())
	}
	dst := make([]float32, 3)
	if n, err := a.ReadAt(dst, 1); n != 3 || err != nil || dst[0] != 2 || dst[2] != 4 {
		t.Errorf("ReadAt(3, 1) = %d, %v, %v", n, err, dst)
	}
	if n, err := a.ReadAt(dst, 3); n != 2 || err != io.EOF || dst[0] != 4 || dst[1] != 5 {
		t.Errorf("ReadAt(3, 3) = %d, %v, %v; want 2, EOF", n, err, dst)
	}
	if n, err := a.ReadAt(dst, 5); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
	}
	if _, err := a.ReadAt(dst, -1); err == nil {
		t.Error("ReadAt at -1: no error")
	}
	if s, err := a.Samples(3, 10); err != nil || len(s) != 2 || s[1] != 5 {
		t.Errorf("Samples(3, 10) = %v, %v; want [4 5]", s, err)
	}
	if s, err := a.Samples(9, 1); err != nil || len(s) != 0 {
		t.Errorf("Samples past the end = %v, %v; want empty", s, err)
	}
	if _, err := a.Samples(0, -1); err == nil {
		t.Error("Samples with n < 0: no error")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadAt(dst, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want ErrClosed", err)
	}
}

func TestSpillToDisk(t *testing.T) {
	const n = 50000
	x := tone(440, SampleRate, n, 0.5)
	path := writeFile(t, "long.wav", wavSpec{tag: 1, channels: 1, rate: SampleRate, bits: 16, frames: frames(x)}.bytes())
	tmp := t.TempDir()
	opt := DefaultOptions()
	opt.TempDir = tmp
	opt.spillAfter = 1000
	a, err := Open(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	spilled, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(spilled) != 1 || a.f == nil || a.mem != nil {
		t.Fatalf("want one spill file and no samples in memory, got files %v", spilled)
	}
	if a.Len() != n {
		t.Fatalf("Len = %d, want %d", a.Len(), n)
	}
	ref := FromSamples(all(t, openT(t, path, DefaultOptions())))
	// Reads of many sizes and offsets, crossing 64 KiB buffer edges and
	// the end of the audio, match the in-memory decode.
	for _, c := range []struct{ off, n int64 }{{0, 1}, {990, 20}, {999, 2}, {0, n}, {16380, 16390}, {n - 5, 10}, {n - 1, 1}} {
		got := make([]float32, c.n)
		want := make([]float32, c.n)
		gn, gerr := a.ReadAt(got, c.off)
		wn, werr := ref.ReadAt(want, c.off)
		if gn != wn || gerr != werr {
			t.Fatalf("ReadAt(%d, %d) = %d, %v; want %d, %v", c.n, c.off, gn, gerr, wn, werr)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("ReadAt(%d, %d)[%d] = %g, want %g", c.n, c.off, i, got[i], want[i])
			}
		}
	}
	// Concurrent readers, as io.ReaderAt allows.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			got := make([]float32, 3000)
			for off := int64(g); off < n; off += 2999 {
				k, _ := a.ReadAt(got, off)
				for i := range k {
					if got[i] != ref.mem[off+int64(i)] {
						t.Errorf("concurrent ReadAt at %d differs", off+int64(i))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spilled[0]); !os.IsNotExist(err) {
		t.Errorf("spill file still there after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := a.ReadAt(make([]float32, 1), 0); err == nil {
		t.Error("ReadAt after Close: no error")
	}
}

// An aborted decode leaves no spill file behind.
func TestSpillRemovedOnAbort(t *testing.T) {
	tmp := t.TempDir()
	opt := DefaultOptions()
	opt.TempDir = tmp
	opt.spillAfter = 100
	s := newSink(opt)
	if err := s.write(make([]float32, 500)); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 1 {
		t.Fatalf("want one spill file, got %v", left)
	}
	s.abort()
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// A Recorder spills to disk past its threshold and reads back what was written.
func TestRecorder(t *testing.T) {
	opt := DefaultOptions()
	opt.TempDir = t.TempDir()
	opt.spillAfter = 1000
	r := NewRecorder(opt)
	want := make([]float32, 0, 2500)
	for i := range 25 {
		frame := make([]float32, 100)
		for j := range frame {
			frame[j] = float32(i*100+j) / 2500
		}
		want = append(want, frame...)
		if err := r.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != 2500 {
		t.Fatalf("Len %d", r.Len())
	}
	a, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.f == nil {
		t.Fatal("2500 samples with spillAfter 1000 did not spill")
	}
	got, err := a.Samples(0, a.Len())
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("read back %d samples, err %v", len(got), err)
	}
	short := NewRecorder(opt)
	_ = short.Write([]float32{0.5})
	if _, err := short.Finish(); !errors.Is(err, ErrTooShort) {
		t.Fatalf("1 sample: %v", err)
	}
	d := NewRecorder(opt)
	_ = d.Write(make([]float32, 2000))
	d.Discard()
	if ents, _ := os.ReadDir(opt.TempDir); len(ents) != 1 { // the first recording's file
		t.Fatalf("discard left files: %v", ents)
	}
}
