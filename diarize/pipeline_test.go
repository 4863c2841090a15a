package diarize

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	pipeOnce sync.Once
	pipe     *Pipeline
	pipeErr  error
)

// pipeline loads the real models once for the package's tests: the
// installed ones, else the shared folder (same layout).
func pipeline(t *testing.T) *Pipeline {
	t.Helper()
	pipeOnce.Do(func() {
		pipe, pipeErr = New(DefaultConfig(testenv.ModelsDir("embedding")).WithThreads(2))
	})
	if pipeErr != nil {
		t.Fatalf("loading models (run `make setup`): %v", pipeErr)
	}
	return pipe
}

func load(t *testing.T, path string) *audio.Audio {
	t.Helper()
	a, err := audio.Open(context.Background(), path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func reference(t *testing.T, rttm, uem string) (*annotation.Annotation, annotation.Timeline) {
	t.Helper()
	f, err := os.Open(rttm)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	refs, err := annotation.ReadRTTM(f)
	if err != nil || len(refs) != 1 {
		t.Fatalf("reading %s: %v", rttm, err)
	}
	u, err := os.Open(uem)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uems, err := annotation.ReadUEM(u)
	if err != nil {
		t.Fatal(err)
	}
	return refs[0], uems[refs[0].URI]
}

// checkWellFormed asserts the invariants every result must hold.
func checkWellFormed(t *testing.T, r *Result) {
	t.Helper()
	for _, ann := range []*annotation.Annotation{r.Diarization, r.Exclusive} {
		for i, turn := range ann.Turns {
			if turn.Empty() || turn.Start < 0 || turn.End > r.Duration+1e-6 {
				t.Fatalf("bad turn %d %+v (duration %.3f)", i, turn, r.Duration)
			}
			if i > 0 && turn.Start < ann.Turns[i-1].Start {
				t.Fatalf("turns not sorted at %d", i)
			}
		}
	}
	for i := 1; i < len(r.Exclusive.Turns); i++ {
		if r.Exclusive.Turns[i].Start < r.Exclusive.Turns[i-1].End-1e-9 {
			t.Fatalf("exclusive turns overlap: %+v %+v", r.Exclusive.Turns[i-1], r.Exclusive.Turns[i])
		}
	}
	labels := r.Diarization.Labels()
	for i, l := range labels {
		if l != annotation.SpeakerLabel(i) {
			t.Fatalf("labels not in order of first appearance: %v", labels)
		}
	}
	if !reflect.DeepEqual(labels, r.Speakers) && !(len(labels) == 0 && len(r.Speakers) == 0) {
		t.Fatalf("Speakers %v != labels %v", r.Speakers, labels)
	}
	if len(r.TurnConfidence) != len(r.Diarization.Turns) {
		t.Fatalf("%d turn confidences for %d turns", len(r.TurnConfidence), len(r.Diarization.Turns))
	}
	if want := int((r.Duration + ConfidenceResolution - 1e-9) / ConfidenceResolution); len(r.Confidence) < want-1 || len(r.Confidence) > want+1 {
		t.Fatalf("%d confidence frames for %.2fs", len(r.Confidence), r.Duration)
	}
	for _, c := range r.Confidence {
		if c < 0 || c > 100 {
			t.Fatalf("confidence %v outside 0..100", c)
		}
	}
}

// Loose DER bounds on a few dev files, so that regressions fail.
func TestDERBounds(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	for _, tc := range []struct {
		file   string
		maxDER float64
	}{
		{"real/pyannote_sample", 0.20},
		{"real/ami_seriously_mixture", 0.25},
		{"sim/sim02_3spk", 0.20},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			a := load(t, filepath.Join(dev, tc.file+".wav"))
			r, err := p.Diarize(context.Background(), a, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, r)
			ref, uem := reference(t, filepath.Join(dev, tc.file+".rttm"), filepath.Join(dev, tc.file+".uem"))
			c, err := eval.DER(ref, r.Diarization, uem, eval.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("DER %.2f%% (%d speakers, reference %d)", 100*c.DER(), len(r.Speakers), len(ref.Labels()))
			if c.DER() > tc.maxDER {
				t.Errorf("DER %.2f%% above the %.0f%% bound", 100*c.DER(), 100*tc.maxDER)
			}
		})
	}
}

// The counts bound the output: a count below the estimate (3 speakers
// found here; the reference has 4) is always reached by merging; one above
// it seeds speakers that need not win any frame, so the output then holds
// between the estimate and the count.
// Given the true count, DER is no worse than without it: on the call the
// estimate finds a 1.3 s fragment as a third speaker, on the meeting it
// misses a 1.2 s speaker, and on ami_debug_trn03 a seed anywhere but the
// 1.1 s speaker's own pair split the long speaker (issue 20).
func TestTrueCountHelps(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	for _, name := range []string{"real/pyannote_sample", "real/ami_seriously_mixture", "real/ami_debug_trn03"} {
		base := filepath.Join(dev, name)
		ref, uem := reference(t, base+".rttm", base+".uem")
		a := load(t, base+".wav")
		var der [2]float64
		for i, opt := range []Options{{}, {NumSpeakers: len(ref.Labels())}} {
			r, err := p.Diarize(context.Background(), a, opt)
			if err != nil {
				t.Fatal(err)
			}
			c, err := eval.DER(ref, r.Diarization, uem, eval.Options{})
			if err != nil {
				t.Fatal(err)
			}
			der[i] = c.DER()
		}
		t.Logf("%s: DER %.2f%% estimated, %.2f%% with %d speakers given", name, 100*der[0], 100*der[1], len(ref.Labels()))
		if der[1] > der[0]+1e-9 {
			t.Errorf("%s: DER %.2f%% with the true count, %.2f%% without", name, 100*der[1], 100*der[0])
		}
	}
}

func TestSpeakerCountConstraints(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	a := load(t, filepath.Join(dev, "real/ami_seriously_mixture.wav"))
	for _, tc := range []struct {
		opt      Options
		min, max int
	}{
		{Options{NumSpeakers: 2}, 2, 2},
		{Options{NumSpeakers: 5}, 3, 5},
		{Options{MaxSpeakers: 1}, 1, 1},
		{Options{MinSpeakers: 6}, 3, 100},
		{Options{MinSpeakers: 2, MaxSpeakers: 3}, 2, 3},
	} {
		r, err := p.Diarize(context.Background(), a, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		checkWellFormed(t, r)
		if n := len(r.Speakers); n < tc.min || n > tc.max {
			t.Errorf("%+v: %d speakers, want %d..%d", tc.opt, n, tc.min, tc.max)
		}
	}
	if _, err := p.Diarize(context.Background(), a, Options{MinSpeakers: 3, MaxSpeakers: 2}); err == nil {
		t.Error("min > max: want an error")
	}
	if _, err := p.Diarize(context.Background(), a, Options{NumSpeakers: 2, MaxSpeakers: 3}); err == nil {
		t.Error("num with max: want an error")
	}
}

func TestDeterministic(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	a := load(t, filepath.Join(dev, "real/pyannote_sample.wav"))
	r1, err := p.Diarize(context.Background(), a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Diarize(context.Background(), a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Fatal("the same file twice gave different results")
	}
	if len(r1.Diarization.Turns) == 0 {
		t.Fatal("no turns on a conversation")
	}
}

func TestSilenceAndShortAudio(t *testing.T) {
	p := pipeline(t)
	r, err := p.Diarize(context.Background(), audio.FromSamples(make([]float32, 16000*12)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Speakers) != 0 || len(r.Diarization.Turns) != 0 {
		t.Fatalf("silence: %d speakers, %d turns", len(r.Speakers), len(r.Diarization.Turns))
	}
	checkWellFormed(t, r)

	// A few seconds of real speech, shorter than one window and one chunk.
	dev := testenv.DevSet(t)
	a := load(t, filepath.Join(dev, "real/pyannote_sample.wav"))
	for _, secs := range []float64{0.5, 1.2, 5} {
		s, err := a.Samples(int64(7*16000), int64(secs*16000))
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Diarize(context.Background(), audio.FromSamples(s), Options{})
		if err != nil {
			t.Fatalf("%.1fs: %v", secs, err)
		}
		checkWellFormed(t, r)
		if secs >= 5 && len(r.Diarization.Turns) == 0 {
			t.Errorf("%.1fs of speech gave no turns", secs)
		}
	}
}

func TestCancel(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	a := load(t, filepath.Join(dev, "sim/sim01_2spk.wav"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Diarize(ctx, a, Options{}); err == nil {
		t.Fatal("cancelled context: want an error")
	}
}
