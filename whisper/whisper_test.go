package whisper

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/internal/testenv"
)

// modelDir is a real model's folder: the installed copy, else the shared one.
func modelDir(name string) string { return filepath.Join(testenv.ModelsDir(name), name) }

var (
	modelMu sync.Mutex
	loaded  = map[string]*Model{}
)

// model loads a real model once for the package's tests.
func model(t *testing.T, name string) *Model {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	if m := loaded[name]; m != nil {
		return m
	}
	m, err := New(DefaultConfig(modelDir(name)).WithThreads(2))
	if err != nil {
		t.Fatalf("loading %s (run `make setup`): %v", name, err)
	}
	loaded[name] = m
	return m
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, x := range loaded {
		x.Close()
	}
	os.Exit(code)
}

func loadAudio(t testing.TB, path string) *audio.Audio {
	t.Helper()
	a, err := audio.Open(context.Background(), path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func samples(t testing.TB, a *audio.Audio) []float32 {
	t.Helper()
	s, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func logMel(t testing.TB, m *Model, x []float32) []float32 {
	t.Helper()
	mel, err := m.LogMel(x)
	if err != nil {
		t.Fatal(err)
	}
	return mel
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestLogMelGolden checks the front end against openai-whisper's own
// log_mel_spectrogram on a synthetic signal (testdata/gen_mel_golden.py):
// the float64 evaluation of its formula exactly, torch's float32 one within
// its rounding, and the long-form spectrogram (file-wide maximum).
func TestLogMelGolden(t *testing.T) {
	fe, err := NewFrontEnd(modelDir("whisper-tiny.en"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/mel_golden/input.i16")
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(b)/2)
	for i := range x {
		x[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	got, err := fe.LogMel(x)
	if err != nil {
		t.Fatal(err)
	}
	compare := func(name string, want []float32, first, frames int, tol float64, got []float32) {
		t.Helper()
		n := len(want) / frames
		worst := 0.0
		for m := range n {
			for f := range frames {
				worst = math.Max(worst, math.Abs(float64(got[m*WindowFrames+first+f]-want[m*frames+f])))
			}
		}
		if worst > tol {
			t.Errorf("%s: max |diff| %g > %g", name, worst, tol)
		}
	}
	compare("float64 formula", readF32(t, "testdata/mel_golden/single64.f32"), 0, 60, 1.2e-7, got)
	compare("openai float32", readF32(t, "testdata/mel_golden/single32.f32"), 0, 60, 5e-5, got)
	// Past the signal the padded window is the floor value everywhere.
	if v := got[5*WindowFrames+2999]; math.Abs(float64(v-got[70*WindowFrames+2000])) > 1e-6 {
		t.Errorf("padding frames differ: %v vs %v", v, got[70*WindowFrames+2000])
	}

	lm, err := newLongMel(fe.filters, audio.FromSamples(x))
	if err != nil {
		t.Fatal(err)
	}
	win, err := lm.window(10, 50, WindowFrames)
	if err != nil {
		t.Fatal(err)
	}
	compare("long-form", readF32(t, "testdata/mel_golden/long64.f32"), 0, 50, 1.2e-7, win)
	for m := range NMels { // openai zero-fills the window past its content
		if win[m*WindowFrames+50] != 0 || win[m*WindowFrames+2999] != 0 {
			t.Fatalf("long-form window not zero past its frames")
		}
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	for _, name := range []string{"whisper-tiny.en", "whisper-base"} {
		tok, err := loadTokenizer(modelDir(name), 50256, 50363)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{
			" And so my fellow Americans ask not what your country can do for you.",
			"I'm here, aren't we? It's 1961 -- 42 pounds!",
			"  two  spaces\nnew line\ttab ",
			" Café, naïve, 東京, Привет 👋",
			"",
		} {
			ids, err := tok.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			if back := tok.Decode(ids); back != s {
				t.Errorf("%s: round trip %q → %v → %q", name, s, ids, back)
			}
		}
	}
	tok := model(t, "whisper-tiny.en").Tokenizer()
	ids, err := tok.Encode(" And so my fellow Americans")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{843, 523, 616, 5891, 3399}; !equalInts(ids, want) {
		t.Errorf("encode: %v, want %v", ids, want)
	}
	if got := string(tok.Piece(50256)); got != "<|endoftext|>" {
		t.Errorf("eot piece %q", got)
	}
	// whisper-base's id 50256 is the empty string (its line is " 50256").
	base := model(t, "whisper-base").Tokenizer()
	if p := base.Piece(50256); len(p) != 0 {
		t.Errorf("base 50256 = %q, want empty", p)
	}
}

// TestDecodeJFKNoTimestamps is docs/MODELS.md's reference mode: one window,
// greedy, no timestamps; the tokens equal the reference decoding of the
// same ONNX files (testdata/reference_onnx.py --notimestamps), and the
// multilingual model detects English first.
func TestDecodeJFKNoTimestamps(t *testing.T) {
	a := loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav")
	for _, c := range []struct {
		model, text string
		tokens      []int
	}{
		{"whisper-tiny.en", "And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.",
			[]int{843, 523, 616, 5891, 3399, 1265, 407, 644, 534, 1499, 460, 466, 329, 345, 11, 1265, 644, 345, 460, 466, 329, 534, 1499, 13}},
		{"whisper-base", "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
			[]int{400, 370, 452, 7177, 6280, 11, 1029, 406, 437, 428, 1941, 393, 360, 337, 291, 11, 1029, 437, 291, 393, 360, 337, 428, 1941, 13}},
	} {
		m := model(t, c.model)
		r, err := m.Decode(context.Background(), logMel(t, m, samples(t, a)), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != c.text || !equalInts(r.Tokens, c.tokens) {
			t.Errorf("%s: %q %v\nwant %q %v", c.model, r.Text, r.Tokens, c.text, c.tokens)
		}
	}
}

// TestTranscribeJFK runs the long-form loop with word timestamps; tokens
// and word times equal the reference (reference_onnx.py --words --greedy).
func TestTranscribeJFK(t *testing.T) {
	a := loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav")
	m := model(t, "whisper-tiny.en")
	r, err := m.Transcribe(context.Background(), a, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var toks []int
	for _, s := range r.Segments {
		toks = append(toks, s.Tokens...)
	}
	want := []int{50363, 843, 523, 616, 5891, 3399, 1265, 407, 644, 534, 1499, 460, 466, 329, 345, 50735, 50735, 1265, 644, 345, 460, 466, 329, 534, 1499, 13, 50892}
	if !equalInts(toks, want) {
		t.Errorf("tokens %v\nwant %v", toks, want)
	}
	words := r.Words()
	wantWords := []struct {
		w          string
		start, end float64
	}{{" And", 0, 0.76}, {" so", 0.76, 1.06}, {" my", 1.06, 1.46}, {" fellow", 1.46, 1.76}, {" Americans", 1.76, 2.28},
		{" ask", 2.28, 3.88}, {" not", 3.88, 4.64}, {" what", 4.64, 5.7}, {" your", 5.7, 6.02}, {" country", 6.02, 6.36},
		{" can", 6.36, 6.76}, {" do", 6.76, 7.02}, {" for", 7.02, 7.26}, {" you", 7.26, 7.58}, {" ask", 8.26, 8.66},
		{" what", 8.66, 8.96}, {" you", 8.96, 9.28}, {" can", 9.28, 9.5}, {" do", 9.5, 9.72}, {" for", 9.72, 9.92},
		{" your", 9.92, 10.22}, {" country.", 10.22, 10.48}}
	if len(words) != len(wantWords) {
		t.Fatalf("%d words, want %d: %+v", len(words), len(wantWords), words)
	}
	// ONNX Runtime's int8 kernels differ between CPUs (AVX2 on AMD, VNNI on
	// Intel): the tokens stay the same, the alignment's DTW can move a word
	// edge by two 20 ms steps (the last word ends at 10.52 s on a Xeon).
	const tol = 0.041
	prev := 0.0
	for i, w := range words {
		ww := wantWords[i]
		if w.Text != ww.w || math.Abs(w.Start-ww.start) > tol || math.Abs(w.End-ww.end) > tol {
			t.Errorf("word %d: %q %.2f-%.2f, want %q %.2f-%.2f", i, w.Text, w.Start, w.End, ww.w, ww.start, ww.end)
		}
		if w.Start < prev || w.End < w.Start || w.End > a.Duration()+0.01 {
			t.Errorf("word %d %q [%.2f, %.2f] not monotonic or outside the audio", i, w.Text, w.Start, w.End)
		}
		prev = w.Start
		// Its tokens' times lie inside it, in order, and spell it.
		text, from := "", w.Start
		for _, p := range w.Pieces {
			text += p.Text
			if p.Start < from || p.End < p.Start || p.End > w.End {
				t.Errorf("word %d %q [%.2f, %.2f]: piece %+v out of order or outside it", i, w.Text, w.Start, w.End, p)
			}
			from = p.Start
		}
		if text != w.Text {
			t.Errorf("word %d %q: pieces spell %q", i, w.Text, text)
		}
	}
}

// TestSilenceGivesNoWords: digital silence and faint noise yield no text.
func TestSilenceGivesNoWords(t *testing.T) {
	m := model(t, "whisper-tiny.en")
	x := make([]float32, 8*SampleRate)
	state := uint32(1)
	for i := 4 * SampleRate; i < len(x); i++ { // second half: faint noise
		state = state*1664525 + 1013904223
		x[i] = (float32(state>>8)/(1<<24) - 0.5) * 1e-3
	}
	r, err := m.Transcribe(context.Background(), audio.FromSamples(x), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Words(); len(w) != 0 || strings.TrimSpace(r.Text) != "" {
		t.Errorf("silence gave %q (%d words)", r.Text, len(w))
	}
}

// TestLanguageDetection: the multilingual model detects English on jfk.
func TestLanguageDetection(t *testing.T) {
	a := loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav")
	m := model(t, "whisper-base")
	encs, err := m.encode(logMel(t, m, samples(t, a)))
	if err != nil {
		t.Fatal(err)
	}
	defer encs[0].release()
	d, err := m.newDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	lang, probs, err := m.detectLanguage(d, encs[0])
	if err != nil || lang != "en" || probs["en"] < 0.5 {
		t.Errorf("detected %q p(en)=%.2f err %v", lang, probs["en"], err)
	}
}

func TestBadInputs(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Error("empty config validated")
	}
	if err := DefaultConfig(t.TempDir()).Validate(); err == nil || !strings.Contains(err.Error(), EncoderFile) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := New(DefaultConfig(filepath.Join(t.TempDir(), "nope"))); err == nil {
		t.Error("New on a missing folder succeeded")
	}
	if err := DefaultConfig(modelDir("whisper-tiny.en")).WithThreads(-1).Validate(); err == nil {
		t.Error("negative threads validated")
	}
	m := model(t, "whisper-tiny.en")
	ctx := context.Background()
	short := audio.FromSamples(make([]float32, 100))
	if _, err := m.Transcribe(ctx, short, DefaultOptions()); err == nil {
		t.Error("100 samples transcribed")
	}
	one := audio.FromSamples(make([]float32, SampleRate))
	opt := DefaultOptions()
	opt.Language = "de"
	if _, err := m.Transcribe(ctx, one, opt); err == nil || !strings.Contains(err.Error(), "English-only") {
		t.Errorf("German on tiny.en: %v", err)
	}
	opt = DefaultOptions()
	opt.Clips = [][2]float64{{0.5, 0.2}}
	if _, err := m.Transcribe(ctx, one, opt); err == nil {
		t.Error("backwards clip accepted")
	}
	if _, err := m.Decode(ctx, make([]float32, 10), DecodeOptions{}); err == nil {
		t.Error("a 10-value mel decoded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Transcribe(cancelled, one, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	base := model(t, "whisper-base")
	opt = DefaultOptions()
	opt.Language = "xx"
	if _, err := base.Transcribe(ctx, one, opt); err == nil || !strings.Contains(err.Error(), "unknown language") {
		t.Errorf("language xx: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
