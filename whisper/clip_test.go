package whisper

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	goreflect "reflect" // this package has its own reflect (mel padding)
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/internal/testenv"
)

// fixedModel loads tiny.en from a folder that links every file but the
// variable-length pair, so that New takes the fixed 30 s files.
func fixedModel(t *testing.T) *Model {
	t.Helper()
	src, dir := modelDir("whisper-tiny.en"), t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == DynEncoderFile || e.Name() == DynDecoderFile {
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(DefaultConfig(dir).WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.VariableWindow() {
		t.Fatal("fixed-file folder loaded the variable-length files")
	}
	return m
}

// dynModel is the installed tiny.en, which must have the variable-length files.
func dynModel(t *testing.T) *Model {
	t.Helper()
	m := model(t, "whisper-tiny.en")
	if !m.VariableWindow() {
		t.Fatalf("%s lacks %s/%s (run `whospoke models install`)", modelDir("whisper-tiny.en"), DynEncoderFile, DynDecoderFile)
	}
	return m
}

// TestVariableFilesMatchFixed: at 30 s the variable-length files are
// bit-identical to the fixed ones (docs/MODELS.md), so long-form transcription
// of the pyannote sample, word times included, does not change.
func TestVariableFilesMatchFixed(t *testing.T) {
	wav := filepath.Join(testenv.ModelsDir("test-audio"), "test-audio", "pyannote-sample", "sample.wav")
	a := loadAudio(t, wav)
	ctx := context.Background()
	want, err := fixedModel(t).Transcribe(ctx, a, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := dynModel(t).Transcribe(ctx, a, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Words()) < 20 {
		t.Fatalf("fixed model gave only %q", want.Text)
	}
	if !goreflect.DeepEqual(got, want) {
		t.Errorf("variable-length files changed the transcription:\n got %q\nwant %q", got.Text, want.Text)
	}
}

func clipWords(r *Result) string {
	var ws []string
	for _, w := range r.Words() {
		ws = append(ws, strings.Trim(strings.ToLower(strings.TrimSpace(w.Text)), ".,?!"))
	}
	return strings.Join(ws, " ")
}

// TestTranscribeClipShort: on clean speech the short window (run beside a
// 30 s one on the same Model) gives the 30 s window's words, timed inside
// the clip, and passes the guard.
func TestTranscribeClipShort(t *testing.T) {
	m := dynModel(t)
	jfk := samples(t, loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav"))
	for _, c := range []struct {
		name    string
		clip    []float32
		minimum int // words
	}{
		{"jfk 11 s", jfk, 20},
		{"jfk first 2.5 s", jfk[:5*SampleRate/2], 4},
	} {
		var res [2]*Result
		var errs [2]error
		var wg sync.WaitGroup
		for i, short := range []bool{false, true} {
			wg.Go(func() {
				res[i], errs[i] = m.TranscribeClip(context.Background(), c.clip, ClipOptions{Short: short, WordTimestamps: true})
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("%s: %v %v", c.name, errs[0], errs[1])
		}
		full, short := res[0], res[1]
		if len(full.Words()) < c.minimum || clipWords(short) != clipWords(full) {
			t.Errorf("%s: short %q\nfull %q", c.name, clipWords(short), clipWords(full))
		}
		dur := float64(len(c.clip)) / SampleRate
		for _, w := range short.Words() {
			if w.Start < 0 || w.End < w.Start || w.End > dur+0.01 {
				t.Errorf("%s: word %q [%.2f, %.2f] outside the %.2f s clip", c.name, w.Text, w.Start, w.End, dur)
			}
		}
		want := ShortWindow(dur)
		for _, s := range short.Segments {
			if s.WindowFrames != want {
				t.Errorf("%s: segment %q decoded in %d frames, want the short %d", c.name, s.Text, s.WindowFrames, want)
			}
		}
	}
}

// TestShortWindowGuard: a short window that fails the guard is decoded
// again in 30 s and then equals the 30 s decoding, or with ShortOnly is
// an error. A compression-ratio
// threshold every text exceeds stands in for a repetition loop.
func TestShortWindowGuard(t *testing.T) {
	m := dynModel(t)
	jfk := clipSource(samples(t, loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav")))
	opt := DefaultOptions()
	opt.CompressionRatioThreshold = 0.01
	opt.Temperatures = []float64{0}
	full, err := m.Transcribe(context.Background(), jfk, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.WindowFrames = ShortWindow(11)
	guarded, err := m.Transcribe(context.Background(), jfk, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !goreflect.DeepEqual(guarded, full) {
		t.Errorf("guarded short window %q differs from 30 s %q", guarded.Text, full.Text)
	}
	for _, s := range guarded.Segments {
		if s.WindowFrames != WindowFrames {
			t.Errorf("segment %q decoded in %d frames, want the 30 s fallback", s.Text, s.WindowFrames)
		}
	}
	opt.ShortOnly = true
	if r, err := m.Transcribe(context.Background(), jfk, opt); !errors.Is(err, ErrShortWindowFailed) {
		t.Errorf("ShortOnly: a failed short window gave %v, %v; want ErrShortWindowFailed", r, err)
	}
	opt.CompressionRatioThreshold = DefaultOptions().CompressionRatioThreshold
	if r, err := m.Transcribe(context.Background(), jfk, opt); err != nil || r.Segments[0].WindowFrames != opt.WindowFrames {
		t.Errorf("ShortOnly on clean speech: %v, %v; want the short window's decoding", r, err)
	}
}

func TestShortWindowFailed(t *testing.T) {
	limit := shortTokenCap(200) // 2 s: 22 tokens
	for _, c := range []struct {
		name      string
		r         DecodeResult
		threshold float64
		want      bool
	}{
		{"hits the cap", DecodeResult{Tokens: make([]int, 22), CompressionRatio: 1.2, AvgLogprob: -0.3}, 2.4, true},
		{"repeats", DecodeResult{Tokens: make([]int, 15), CompressionRatio: 3.1, AvgLogprob: -0.3}, 2.4, true},
		{"repeats, test off", DecodeResult{Tokens: make([]int, 15), CompressionRatio: 3.1, AvgLogprob: -0.3}, 0, false},
		{"speech", DecodeResult{Tokens: make([]int, 15), CompressionRatio: 1.2, AvgLogprob: -0.3, NoSpeechProb: 0.1}, 2.4, false},
		{"silence", DecodeResult{Tokens: make([]int, 3), AvgLogprob: -1.5, NoSpeechProb: 0.9}, 2.4, true},
		{"silence with likely text", DecodeResult{Tokens: make([]int, 3), AvgLogprob: -0.9, NoSpeechProb: 0.9}, 2.4, true},
	} {
		opt := DefaultOptions()
		opt.CompressionRatioThreshold = c.threshold
		if got := shortWindowFailed(&c.r, limit, opt); got != c.want {
			t.Errorf("%s: failed %v, want %v", c.name, got, c.want)
		}
	}
	for s, want := range map[float64]int{0.4: 1000, 2: 1000, 8.9: 1000, 9.01: 1100, 20: 2100, 29.5: 3000, 30: 3000} {
		if got := ShortWindow(s); got != want {
			t.Errorf("ShortWindow(%g) = %d, want %d", s, got, want)
		}
	}
}

// TestTranscribeClipEdges: silence gives nothing, a clip over 30 s is
// refused, and a prompt conditions without appearing in the text.
func TestTranscribeClipEdges(t *testing.T) {
	m := dynModel(t)
	ctx := context.Background()
	quiet := make([]float32, 3*SampleRate)
	state := uint32(7)
	for i := range quiet[SampleRate:] { // faint noise after 1 s of zeros
		state = state*1664525 + 1013904223
		quiet[SampleRate+i] = (float32(state>>8)/(1<<24) - 0.5) * 1e-3
	}
	for _, short := range []bool{true, false} {
		r, err := m.TranscribeClip(ctx, quiet, ClipOptions{Short: short, WordTimestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(r.Text) != "" || len(r.Words()) != 0 {
			t.Errorf("short=%v: silence gave %q", short, r.Text)
		}
	}
	if _, err := m.TranscribeClip(ctx, make([]float32, WindowSamples+1), ClipOptions{Short: true}); err == nil {
		t.Error("a clip over 30 s was transcribed")
	}
	if _, err := m.Transcribe(ctx, clipSource(quiet), Options{WindowFrames: 999}); err == nil {
		t.Error("an odd window was accepted")
	}
	if _, err := fixedModel(t).Transcribe(ctx, clipSource(quiet), Options{WindowFrames: 1000}); err == nil {
		t.Error("a short window without the variable-length files was accepted")
	}
	jfk := samples(t, loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav"))
	r, err := m.TranscribeClip(ctx, jfk[:5*SampleRate/2], ClipOptions{Short: true, Prompt: "President Kennedy's inaugural address."})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Text, "Kennedy") || !strings.Contains(strings.ToLower(r.Text), "fellow") {
		t.Errorf("prompted clip gave %q", r.Text)
	}
}

// TestClipPrefix: a forced prefix (a live turn's committed words) begins
// the result, with word times inside the clip, and the words after it are
// those of the unforced decoding: jfk's first seven words, then the rest
// as heard. A prefix the audio does not hold is kept as given.
func TestClipPrefix(t *testing.T) {
	m := dynModel(t)
	jfk := samples(t, loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav"))
	for _, short := range []bool{true, false} {
		plain, err := m.TranscribeClip(context.Background(), jfk, ClipOptions{Short: short, WordTimestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		words := plain.Words()
		var head []string
		for _, w := range words[:7] {
			head = append(head, strings.TrimSpace(w.Text))
		}
		got, err := m.TranscribeClip(context.Background(), jfk, ClipOptions{Short: short, WordTimestamps: true,
			Prefix: strings.Join(head, " ")})
		if err != nil {
			t.Fatal(err)
		}
		if clipWords(got) != clipWords(plain) {
			t.Errorf("short %v: prefixed %q\nwant %q", short, clipWords(got), clipWords(plain))
		}
		// Starts only: a segment's last word ends at the segment's end
		// timestamp, which the forced and the sampled decodings may pick
		// apart (the prefix is fed in one pass, whose dynamic quantisation
		// differs from one token's).
		for i, w := range got.Words() {
			if i < len(words) && math.Abs(w.Start-words[i].Start) > 0.1 {
				t.Errorf("short %v: word %q starts at %.2f, unforced %.2f", short, w.Text, w.Start, words[i].Start)
			}
		}
	}
	odd, err := m.TranscribeClip(context.Background(), jfk, ClipOptions{Short: true, WordTimestamps: true, Prefix: "Good morning everyone."})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(clipWords(odd), "good morning everyone ") || len(odd.Words()) < 10 {
		t.Errorf("unheard prefix: %q", clipWords(odd))
	}
}

// TestRetryUnprompted: sim06's 56.26–60 s, after its preceding digits as
// a prompt, fails the short window's guard (Whisper repeats the prompt);
// RetryUnprompted hears it again without the prompt, on the same encoder
// output, and passes ("four, nine, zero, four").
func TestRetryUnprompted(t *testing.T) {
	m := dynModel(t)
	sim06 := samples(t, loadAudio(t, testenv.DevSet(t)+"/sim/sim06_digits_3spk.wav"))
	clip := sim06[int(56.26*SampleRate):int(60*SampleRate)]
	opt := ClipOptions{Short: true, ShortOnly: true, WordTimestamps: true, Prompt: "9, 0, 8, 4, 4, 4, 8, 5, 2, 5, 7, 2,"}
	if _, err := m.TranscribeClip(context.Background(), clip, opt); !errors.Is(err, ErrShortWindowFailed) {
		t.Fatalf("prompted short window: %v, want ErrShortWindowFailed (the case this test is about)", err)
	}
	opt.RetryUnprompted = true
	r, err := m.TranscribeClip(context.Background(), clip, opt)
	if err != nil || len(r.Words()) < 4 {
		t.Fatalf("retried without the prompt: %v, %v; want ≥ 4 words", r, err)
	}
	if s := r.Segments[0]; s.WindowFrames != ShortWindow(float64(len(clip))/SampleRate) {
		t.Errorf("decoded in %d frames, want the short window", s.WindowFrames)
	}
}

// TestCancelStopsEncoder: the encoder run honours its context (a live
// partial superseded mid-encoder stops there): a cancelled context makes
// it return the context's error, cancelling mid-run too, and the model
// decodes normally afterwards.
func TestCancelStopsEncoder(t *testing.T) {
	m := dynModel(t)
	jfk := samples(t, loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav"))
	mel, err := m.LogMel(jfk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.encodeInto(ctx, mel, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("encoder under a cancelled context: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := m.TranscribeClip(ctx, jfk, ClipOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("clip cancelled mid-run: %v, want context.Canceled", err)
	}
	r, err := m.TranscribeClip(context.Background(), jfk, ClipOptions{})
	if err != nil || len(strings.Fields(r.Text)) < 20 {
		t.Fatalf("after the cancelled runs: %v, %v", r, err)
	}
}
