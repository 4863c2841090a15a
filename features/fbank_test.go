package features

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// goldenTol bounds |Go − torchaudio| on log-mel values. torchaudio works in
// float32 and this package in float64, so the gap is float32 rounding in
// the reference, largest for bins near the log floor.
const goldenTol = 1e-3

type goldenMeta struct {
	Torch      string `json:"torch"`
	Torchaudio string `json:"torchaudio"`
	Wav        string `json:"wav"`
	Synthetic  struct {
		NumSamples int `json:"num_samples"`
		NumFrames  int `json:"num_frames"`
	} `json:"synthetic"`
	Head   excerptMeta `json:"head"`
	Speech excerptMeta `json:"speech"`
}

type excerptMeta struct {
	StartSample int `json:"start_sample"`
	NumSamples  int `json:"num_samples"`
	NumFrames   int `json:"num_frames"`
}

func loadMeta(t *testing.T) goldenMeta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m goldenMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// readF32 reads a little-endian float32 fixture and checks its length.
func readF32(t *testing.T, name string, want int) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*want {
		t.Fatalf("%s: %d bytes, want %d float32s", name, len(b), want)
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func maxAbsDiff(t *testing.T, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	var m float64
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
			t.Fatalf("value %d (frame %d, bin %d) is %v", i, i/NumMelBins, i%NumMelBins, got[i])
		}
		m = max(m, math.Abs(float64(got[i])-float64(want[i])))
	}
	return m
}

func TestGoldenSynthetic(t *testing.T) {
	meta := loadMeta(t)
	samples := readF32(t, "synthetic_samples.f32", meta.Synthetic.NumSamples)
	want := readF32(t, "synthetic_fbank.f32", meta.Synthetic.NumFrames*NumMelBins)
	f := NewFbank()
	if n := f.NumFrames(len(samples)); n != meta.Synthetic.NumFrames {
		t.Fatalf("NumFrames = %d, torchaudio made %d", n, meta.Synthetic.NumFrames)
	}
	d := maxAbsDiff(t, f.Compute(samples, nil), want)
	t.Logf("synthetic: max |Go − torchaudio %s| = %.3g over %d frames", meta.Torchaudio, d, meta.Synthetic.NumFrames)
	if d > goldenTol {
		t.Errorf("max abs diff %.3g > %g", d, goldenTol)
	}
}

func TestGoldenSpeech(t *testing.T) {
	meta := loadMeta(t)
	shared := os.Getenv("WHOSPOKE_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "shared")
	}
	wavPath := filepath.Join(shared, meta.Wav)
	if _, err := os.Stat(wavPath); err != nil {
		t.Skipf("shared test audio not found (%v); set WHOSPOKE_SHARED to the shared folder", err)
	}
	f := NewFbank()
	for _, ex := range []struct {
		name     string
		meta     excerptMeta
		meanNorm bool
	}{
		{"head", meta.Head, false},
		{"speech", meta.Speech, true},
	} {
		t.Run(ex.name, func(t *testing.T) {
			samples, err := readPCM16(wavPath, ex.meta.StartSample, ex.meta.NumSamples)
			if err != nil {
				t.Fatal(err)
			}
			n := ex.meta.NumFrames * NumMelBins
			got := f.Compute(samples, nil)
			d := maxAbsDiff(t, got, readF32(t, ex.name+"_fbank.f32", n))
			t.Logf("%s: max |Go − torchaudio| = %.3g over %d frames", ex.name, d, ex.meta.NumFrames)
			if d > goldenTol {
				t.Errorf("fbank: max abs diff %.3g > %g", d, goldenTol)
			}
			if !ex.meanNorm {
				return
			}
			SubtractMean(got, NumMelBins)
			d = maxAbsDiff(t, got, readF32(t, ex.name+"_fbank_meannorm.f32", n))
			t.Logf("%s mean-normalised: max |Go − torchaudio| = %.3g", ex.name, d)
			if d > goldenTol {
				t.Errorf("mean-normalised: max abs diff %.3g > %g", d, goldenTol)
			}
		})
	}
}

// readPCM16 reads count mono 16-bit PCM samples from sample start of a WAV
// file, scaled to [-1, 1] like torchaudio.load.
func readPCM16(path string, start, count int) ([]float32, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var riff [12]byte
	if _, err := io.ReadFull(fh, riff[:]); err != nil {
		return nil, err
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF/WAVE file")
	}
	var fmtOK bool
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(fh, hdr[:]); err != nil {
			return nil, fmt.Errorf("no data chunk: %w", err)
		}
		size := int64(binary.LittleEndian.Uint32(hdr[4:]))
		switch string(hdr[0:4]) {
		case "fmt ":
			b := make([]byte, size)
			if _, err := io.ReadFull(fh, b); err != nil || size < 16 {
				return nil, fmt.Errorf("bad fmt chunk: %v", err)
			}
			format, channels := binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:])
			rate, bits := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint16(b[14:])
			if format != 1 || channels != 1 || rate != SampleRate || bits != 16 {
				return nil, fmt.Errorf("want 16 kHz mono 16-bit PCM, got format %d, %d ch, %d Hz, %d bits", format, channels, rate, bits)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data chunk before fmt chunk")
			}
			if int64(start+count)*2 > size {
				return nil, fmt.Errorf("want samples %d…%d, file has %d", start, start+count, size/2)
			}
			if _, err := fh.Seek(int64(start)*2, io.SeekCurrent); err != nil {
				return nil, err
			}
			b := make([]byte, 2*count)
			if _, err := io.ReadFull(fh, b); err != nil {
				return nil, err
			}
			out := make([]float32, count)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
			}
			return out, nil
		default:
			if _, err := fh.Seek(size+size&1, io.SeekCurrent); err != nil {
				return nil, err
			}
		}
	}
}

// testSignal is deterministic audio-like input: tones plus noise.
func testSignal(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / SampleRate
		x[i] = float32(0.3*math.Sin(2*math.Pi*440*t) + 0.1*math.Sin(2*math.Pi*2900*t) + 0.05*r.NormFloat64())
	}
	return x
}

func TestNumFrames(t *testing.T) {
	f := NewFbank()
	for _, c := range []struct{ n, want int }{
		{-5, 0}, {0, 0}, {399, 0}, {400, 1}, {559, 1}, {560, 2}, {16000, 98},
	} {
		if got := f.NumFrames(c.n); got != c.want {
			t.Errorf("NumFrames(%d) = %d, want %d", c.n, got, c.want)
		}
		if got := len(f.Compute(make([]float32, max(c.n, 0)), nil)); got != c.want*NumMelBins {
			t.Errorf("Compute of %d samples gave %d values, want %d", c.n, got, c.want*NumMelBins)
		}
	}
}

func TestComputeShortInputLeavesDst(t *testing.T) {
	f := NewFbank()
	if got := f.Compute(nil, nil); len(got) != 0 {
		t.Errorf("Compute(nil) = %d values", len(got))
	}
	dst := []float32{1, 2, 3}
	got := f.Compute(make([]float32, FrameLength-1), dst)
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("Compute of too few samples changed dst: %v", got)
	}
}

func TestComputeAppends(t *testing.T) {
	f := NewFbank()
	x := testSignal(2000)
	alone := f.Compute(x, nil)
	got := f.Compute(x, []float32{7, 8})
	if got[0] != 7 || got[1] != 8 {
		t.Fatalf("prefix overwritten: %v", got[:2])
	}
	if len(got) != 2+len(alone) {
		t.Fatalf("got %d values, want %d", len(got), 2+len(alone))
	}
	for i, v := range alone {
		if got[2+i] != v {
			t.Fatalf("value %d: %v appended, %v alone", i, got[2+i], v)
		}
	}
}

// The pipeline computes a long file in pieces; overlapping pieces that start
// on frame boundaries must give exactly the frames of the whole.
func TestComputeInPieces(t *testing.T) {
	f := NewFbank()
	x := testSignal(16000)
	whole := f.Compute(x, nil)
	var pieces []float32
	const framesPerPiece = 37
	for k := 0; k < f.NumFrames(len(x)); k += framesPerPiece {
		end := min(len(x), (k+framesPerPiece-1)*FrameShift+FrameLength)
		pieces = f.Compute(x[k*FrameShift:end], pieces)
	}
	if len(pieces) != len(whole) {
		t.Fatalf("pieces gave %d values, whole %d", len(pieces), len(whole))
	}
	for i := range whole {
		if pieces[i] != whole[i] {
			t.Fatalf("value %d: pieces %v, whole %v", i, pieces[i], whole[i])
		}
	}
}

func TestSilenceHitsLogFloor(t *testing.T) {
	f := NewFbank()
	floor := float32(math.Log(logFloor))
	for _, level := range []float32{0, 0.25} { // a constant is all DC, removed
		x := make([]float32, 1600)
		for i := range x {
			x[i] = level
		}
		for i, v := range f.Compute(x, nil) {
			if v != floor {
				t.Fatalf("constant %v: value %d = %v, want log floor %v", level, i, v, floor)
			}
		}
	}
}

func TestToneLandsInItsMelBin(t *testing.T) {
	f := NewFbank()
	x := make([]float32, 4000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/SampleRate))
	}
	out := f.Compute(x, nil)
	// 1 kHz is mel 999.99; filter centres are 34.68 mel apart from mel(20)
	// = 31.75, so it peaks in filter (1000−31.75)/34.68 − 1 ≈ 26.9 → 27.
	frame := out[5*NumMelBins : 6*NumMelBins]
	best := 0
	for b, v := range frame {
		if v > frame[best] {
			best = b
		}
	}
	if best != 27 {
		t.Errorf("1 kHz tone peaks in mel bin %d, want 27", best)
	}
}

func TestSubtractMean(t *testing.T) {
	const dim = 5
	frames := make([]float32, 7*dim)
	for i := range frames {
		frames[i] = float32(i%dim)*10 + float32(i*i%13)
	}
	SubtractMean(frames, dim)
	for j := range dim {
		var sum float64
		for r := j; r < len(frames); r += dim {
			sum += float64(frames[r])
		}
		if math.Abs(sum/7) > 1e-5 {
			t.Errorf("column %d mean %g after SubtractMean", j, sum/7)
		}
	}
	// One row: every value becomes exactly zero.
	row := []float32{1.5, -2, 3}
	SubtractMean(row, 3)
	for j, v := range row {
		if v != 0 {
			t.Errorf("single row value %d = %v, want 0", j, v)
		}
	}
}

func TestSubtractMeanBadShapeIsNoOp(t *testing.T) {
	SubtractMean(nil, NumMelBins)
	for _, dim := range []int{0, -1, 4} {
		x := []float32{1, 2, 3, 4, 5, 6}
		SubtractMean(x, dim)
		for i, v := range x {
			if v != float32(i+1) {
				t.Errorf("dim %d: value %d changed to %v", dim, i, v)
			}
		}
	}
}

func TestConcurrentCompute(t *testing.T) {
	f := NewFbank()
	x := testSignal(8000)
	want := f.Compute(x, nil)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Go(func() {
			for range 5 {
				got := f.Compute(x, nil)
				for i := range want {
					if got[i] != want[i] {
						errs[g] = fmt.Errorf("goroutine %d: value %d = %v, want %v", g, i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkFbank(b *testing.B) {
	f := NewFbank()
	x := testSignal(60 * SampleRate)
	frames := f.NumFrames(len(x))
	dst := make([]float32, 0, frames*NumMelBins)
	for b.Loop() {
		dst = f.Compute(x, dst[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
}
