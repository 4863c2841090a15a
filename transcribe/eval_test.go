package transcribe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/models"
	"github.com/whospoke/whospoke/whisper"
)

// TestEvalDevSet measures transcription on the dev set (docs/TRANSCRIPTION_BENCH.md).
// It is slow, so it runs only when asked:
//
//	WHOSPOKE_TRANSCRIBE_EVAL=1 go test ./transcribe/ -run EvalDevSet -v -timeout 60m
//
// WHOSPOKE_TRANSCRIBE_EVAL_MODELS / _MODES / _FILES narrow it
// (comma-separated; files by base name).
func TestEvalDevSet(t *testing.T) {
	if os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL") == "" {
		t.Skip("set WHOSPOKE_TRANSCRIBE_EVAL=1 to run the dev-set evaluation")
	}
	dev := testenv.DevSet(t)
	modelNames := list("WHOSPOKE_TRANSCRIBE_EVAL_MODELS", "whisper-tiny.en,whisper-base")
	modes := list("WHOSPOKE_TRANSCRIBE_EVAL_MODES", "whole,regions,turns")
	_, p := load(t)
	ctx := context.Background()

	type item struct {
		name string
		ref  func() ([]eval.TimedWord, map[string]string)
	}
	items := []item{
		{"asr/jfk", func() ([]eval.TimedWord, map[string]string) {
			b, err := os.ReadFile(filepath.Join(dev, "asr/jfk.txt"))
			if err != nil {
				t.Fatal(err)
			}
			return []eval.TimedWord{{Text: string(b), Speaker: "jfk"}}, nil
		}},
		{"sim/sim06_digits_3spk", func() ([]eval.TimedWord, map[string]string) {
			return refWords(t, filepath.Join(dev, "sim/sim06_digits_3spk.words.tsv")), nil
		}},
		{"sim/sim07_digits_2spk", func() ([]eval.TimedWord, map[string]string) {
			return refWords(t, filepath.Join(dev, "sim/sim07_digits_2spk.words.tsv")), nil
		}},
		{"real/pyannote_sample", func() ([]eval.TimedWord, map[string]string) {
			return refWords(t, filepath.Join(dev, "real/pyannote_sample.stm")), nil
		}},
		{"real/ami_seriously_mixture", func() ([]eval.TimedWord, map[string]string) {
			b, err := os.ReadFile(filepath.Join(dev, "real/ami_seriously_mixture.transcripts.json"))
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Transcripts map[string]string }
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			return nil, v.Transcripts
		}},
	}
	if f := os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL_FILES"); f != "" {
		var keep []item
		for _, it := range items {
			if strings.Contains(","+f+",", ","+filepath.Base(it.name)+",") {
				keep = append(keep, it)
			}
		}
		items = keep
	}
	fmt.Printf("| model | mode | file | WER | speaker-attributed word acc. | cpWER | median |start err| | wall s | RTF |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range modelNames {
		dir, err := models.Path(modelsDir(), name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := whisper.New(whisper.DefaultConfig(dir).WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			a, err := audio.Open(ctx, filepath.Join(dev, it.name+".wav"), audio.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Diarize(ctx, a, diarize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			refWords, refSpk := it.ref()
			for _, mode := range modes {
				st := time.Now()
				opt := Options{Mode: Mode(mode)}
				opt.Pad, _ = strconv.ParseFloat(os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL_PAD"), 64)
				opt.Bridge, _ = strconv.ParseFloat(os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL_BRIDGE"), 64)
				tr, err := Transcribe(ctx, m, a, res.Exclusive, opt)
				if err != nil {
					t.Fatal(err)
				}
				wall := time.Since(st).Seconds()
				var hyp []eval.TimedWord
				bySpk := map[string]string{}
				for _, w := range tr.Words {
					hyp = append(hyp, eval.TimedWord{Start: w.Start, End: w.End, Text: w.Text, Speaker: w.Speaker})
					bySpk[w.Speaker] += " " + w.Text
				}
				cells := []string{"", "", "", ""}
				if refWords != nil {
					s := eval.ScoreTranscript(refWords, hyp)
					cells[0] = fmt.Sprintf("%.1f %% (%d/%d)", 100*s.WER, s.Errors, s.RefWords)
					if len(refWords) > 1 {
						cells[1] = fmt.Sprintf("%.1f %% (%.1f %% of aligned)", 100*s.SpeakerAccuracy, 100*s.AlignedSpeakerAccuracy)
						if !strings.Contains(it.name, "pyannote") { // STM has turn times only
							cells[3] = fmt.Sprintf("%.3f s", s.MedianStartError)
						}
					}
				}
				if refSpk != nil {
					r, e, n := eval.CpWER(refSpk, bySpk)
					cells[2] = fmt.Sprintf("%.1f %% (%d/%d)", 100*r, e, n)
					// Speaker-blind WER needs one reference order; AMI's
					// per-speaker texts have none, so report cpWER only.
				}
				fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %.1f | %.3f |\n", strings.TrimPrefix(name, "whisper-"), mode,
					filepath.Base(it.name), cells[0], cells[1], cells[2], cells[3], wall, wall/a.Duration())
			}
			a.Close()
		}
		m.Close()
	}
}

func list(env, def string) []string {
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// TestEvalLongFile diarizes and transcribes one long file, for profiling
// (BENCHMARKS.md, "Transcription"): run it with the go test profile flags,
//
//	WHOSPOKE_TRANSCRIBE_LONG=long11min.wav go test ./transcribe/ -run EvalLongFile -v -timeout 60m -cpuprofile cpu.out -memprofile mem.out
func TestEvalLongFile(t *testing.T) {
	path := os.Getenv("WHOSPOKE_TRANSCRIBE_LONG")
	if path == "" {
		t.Skip("set WHOSPOKE_TRANSCRIBE_LONG to a recording to profile a long transcription")
	}
	m, p := load(t)
	ctx := context.Background()
	a, err := audio.Open(ctx, path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st := time.Now()
	res, err := p.Diarize(ctx, a, diarize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mid := time.Now()
	tr, err := Transcribe(ctx, m, a, res.Exclusive, Options{Activity: res.Diarization})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.1f s of audio: diarization %.1f s, transcription %.1f s wall, %d words", a.Duration(), mid.Sub(st).Seconds(), time.Since(mid).Seconds(), len(tr.Words))
}

// refWords reads a dev reference transcript (eval.ReadReferenceFile).
func refWords(t testing.TB, path string) []eval.TimedWord {
	t.Helper()
	ws, err := eval.ReadReferenceFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}
