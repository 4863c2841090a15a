package whisper

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

// TestEvalShortWindow measures what ClipOptions.Short costs in words
// (BENCHMARKS.md, "Live clips"). It is slow, so it runs only when asked:
//
//	WHOSPOKE_WHISPER_EVAL=1 go test ./whisper/ -run EvalShortWindow -v -timeout 60m
//
// Clips with a reference (asr/jfk, the 42 FSDD digit strings) give WER
// for a 30 s window and a short one; the 114 speaker-protocol clips
// (LibriSpeech and Picovoice, 0.9–23 s, no transcripts) give the short
// window's word disagreement with the 30 s one. Both count how often the
// guard fell back to 30 s.
func TestEvalShortWindow(t *testing.T) {
	if os.Getenv("WHOSPOKE_WHISPER_EVAL") == "" {
		t.Skip("set WHOSPOKE_WHISPER_EVAL=1 to run the short-window evaluation")
	}
	dev := testenv.DevSet(t)
	m := dynModel(t)
	type clip struct{ path, ref string }
	var refd, unref []clip
	b, err := os.ReadFile(filepath.Join(dev, "asr/jfk.txt"))
	if err != nil {
		t.Fatal(err)
	}
	refd = append(refd, clip{filepath.Join(dev, "asr/jfk.wav"), string(b)})
	var digits []struct{ Path, Text string }
	if b, err = os.ReadFile(filepath.Join(dev, "speakers/fsdd_digit_utterances.json")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &digits); err != nil {
		t.Fatal(err)
	}
	for _, d := range digits { // paths are relative to a subfolder of the set
		refd = append(refd, clip{filepath.Join(dev, "speakers", strings.TrimPrefix(d.Path, "../speakers/")), d.Text})
	}
	f, err := os.Open(filepath.Join(dev, "speakers/speaker_id_protocol.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		unref = append(unref, clip{path: filepath.Join(dev, row[0])})
	}
	for _, set := range []struct {
		name  string
		clips []clip
	}{{"jfk + FSDD digits (reference)", refd}, {"speaker protocol (30 s window as reference)", unref}} {
		var s evalSums
		for _, c := range set.clips {
			s.add(t, m, c.path, c.ref)
		}
		t.Logf("%s: %s", set.name, s)
	}
}

type evalSums struct {
	clips, fallbacks, refWords, errFull, errShort, fullWords, disagree int
	full, short                                                        time.Duration
}

func (s *evalSums) add(t *testing.T, m *Model, path, ref string) {
	t.Helper()
	x := samples(t, loadAudio(t, path))
	var res [2]*Result
	var took [2]time.Duration
	for i, short := range []bool{false, true} {
		start := time.Now()
		r, err := m.TranscribeClip(context.Background(), x, ClipOptions{Short: short})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		res[i], took[i] = r, time.Since(start)
	}
	full, short := eval.NormaliseWords(res[0].Text), eval.NormaliseWords(res[1].Text)
	s.clips++
	s.full += took[0]
	s.short += took[1]
	s.fullWords += len(full)
	s.disagree += eval.WordErrors(full, short)
	for _, seg := range res[1].Segments {
		if seg.WindowFrames == WindowFrames {
			s.fallbacks++
			break
		}
	}
	if ref != "" {
		r := eval.NormaliseWords(ref)
		s.refWords += len(r)
		s.errFull += eval.WordErrors(r, full)
		s.errShort += eval.WordErrors(r, short)
	}
	if strings.Join(full, " ") != strings.Join(short, " ") {
		t.Logf("%s: full %q / short %q", filepath.Base(path), res[0].Text, res[1].Text)
	}
}

func (s evalSums) String() string {
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	out := fmt.Sprintf("%d clips; short vs 30 s disagreement %.1f %% (%d/%d words); guard fell back on %d clips; wall time full %.1f s, short %.1f s",
		s.clips, pct(s.disagree, s.fullWords), s.disagree, s.fullWords, s.fallbacks, s.full.Seconds(), s.short.Seconds())
	if s.refWords > 0 {
		out += fmt.Sprintf("; WER full %.1f %% (%d/%d), short %.1f %% (%d/%d)",
			pct(s.errFull, s.refWords), s.errFull, s.refWords, pct(s.errShort, s.refWords), s.errShort, s.refWords)
	}
	return out
}

// TestEvalDecodeModes looks for the source of the batch transcriber's WER
// gap to the reference decoding (issue 18) on dev single-speaker clips with
// transcripts (asr/jfk, the 42 FSDD digit strings): the same clip decoded
// (a) as batch transcription does, openai's long-form loop with timestamps,
// conditioning and the temperature fallback; (b) the same at temperature 0
// only; (c) the reference mode, one window greedy without timestamps.
// Opt-in:
//
//	WHOSPOKE_WHISPER_EVAL=1 go test ./whisper/ -run EvalDecodeModes -v -timeout 60m
func TestEvalDecodeModes(t *testing.T) {
	if os.Getenv("WHOSPOKE_WHISPER_EVAL") == "" {
		t.Skip("set WHOSPOKE_WHISPER_EVAL=1 to run the decoding-mode evaluation")
	}
	dev := testenv.DevSet(t)
	m := model(t, "whisper-tiny.en")
	b, err := os.ReadFile(filepath.Join(dev, "asr/jfk.txt"))
	if err != nil {
		t.Fatal(err)
	}
	clips := []struct{ Path, Text string }{{"../asr/jfk.wav", string(b)}}
	if b, err = os.ReadFile(filepath.Join(dev, "speakers/fsdd_digit_utterances.json")); err != nil {
		t.Fatal(err)
	}
	var digits []struct{ Path, Text string }
	if err := json.Unmarshal(b, &digits); err != nil {
		t.Fatal(err)
	}
	clips = append(clips, digits...)
	ctx := context.Background()
	greedy := DefaultOptions()
	greedy.Temperatures = []float64{0}
	var errs [3]int
	refWords := 0
	for _, c := range clips {
		a := loadAudio(t, filepath.Join(dev, "speakers", c.Path))
		var texts [3]string
		for i, opt := range []Options{DefaultOptions(), greedy} {
			r, err := m.Transcribe(ctx, a, opt)
			if err != nil {
				t.Fatal(err)
			}
			texts[i] = r.Text
		}
		mel, err := m.LogMel(samples(t, a))
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.Decode(ctx, mel, DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		texts[2] = r.Text
		ref := eval.NormaliseWords(c.Text)
		refWords += len(ref)
		for i, tx := range texts {
			errs[i] += eval.WordErrors(ref, eval.NormaliseWords(tx))
		}
		if texts[0] != texts[2] {
			t.Logf("%s: %q | greedy %q | reference mode %q (ref %q)", filepath.Base(c.Path), texts[0], texts[1], texts[2], c.Text)
		}
	}
	pct := func(e int) string {
		return fmt.Sprintf("%.1f %% (%d/%d)", 100*float64(e)/float64(refWords), e, refWords)
	}
	t.Logf("%d clips: WER long-form %s, long-form greedy %s, one window greedy without timestamps %s", len(clips), pct(errs[0]), pct(errs[1]), pct(errs[2]))
}
