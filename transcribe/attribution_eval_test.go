package transcribe

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/whisper"
)

// TestEvalAttribution measures word attribution as issue 18 defines it
// (eval.ScoreAttribution) on the dev files with word or turn transcripts,
// with the diarization and with the reference RTTM in its place, and
// classifies the wrongly attributed words (BENCHMARKS.md, Transcription).
// Slow, so it runs only when asked:
//
//	WHOSPOKE_TRANSCRIBE_EVAL=1 go test ./transcribe/ -run EvalAttribution -v -timeout 30m
func TestEvalAttribution(t *testing.T) {
	if os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL") == "" {
		t.Skip("set WHOSPOKE_TRANSCRIBE_EVAL=1 to run the attribution evaluation")
	}
	dev := testenv.DevSet(t)
	m, p := load(t)
	ctx := context.Background()
	files := map[string]func() []eval.TimedWord{
		"sim/sim06_digits_3spk": func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "sim/sim06_digits_3spk.words.tsv")) },
		"sim/sim07_digits_2spk": func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "sim/sim07_digits_2spk.words.tsv")) },
		"real/pyannote_sample":  func() []eval.TimedWord { return refWords(t, filepath.Join(dev, "real/pyannote_sample.stm")) },
	}
	names := []string{"sim/sim07_digits_2spk", "real/pyannote_sample", "sim/sim06_digits_3spk"}
	fmt.Printf("| file | diarization | attribution | matched | WER | median |start err| |\n|---|---|---|---|---|---|\n")
	for _, name := range names {
		a, err := audio.Open(ctx, filepath.Join(dev, name+".wav"), audio.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		refs, err := eval.ReadRTTMPath(filepath.Join(dev, name+".rttm"))
		if err != nil {
			t.Fatal(err)
		}
		oracle := refs[0]
		oracle.Sort()
		res, err := p.Diarize(ctx, a, diarize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ref := files[name]()
		tr, err := Transcribe(ctx, m, a, res.Exclusive, Options{Activity: res.Diarization})
		if err != nil {
			t.Fatal(err)
		}
		orc, err := Transcribe(ctx, m, a, oracle, Options{Activity: oracle})
		if err != nil {
			t.Fatal(err)
		}
		timed := !strings.Contains(name, "pyannote") // an STM has turn times only
		for _, run := range []struct {
			label string
			words []api.WordItem
		}{
			{"system, exclusive turns", relabel(tr.Words, res.Exclusive)},
			{"system", tr.Words},
			{"system words, reference RTTM", relabel(tr.Words, oracle)},
			{"reference RTTM", orc.Words},
		} {
			hyp := timedWords(run.words)
			s := eval.ScoreAttribution(ref, hyp)
			w := eval.ScoreTranscript(ref, hyp)
			start := ""
			if timed {
				start = fmt.Sprintf("%.3f s", medianStartError(s))
			}
			fmt.Printf("| %s | %s | %.1f %% (%d/%d) | %.1f %% | %.1f %% | %s |\n", filepath.Base(name), run.label,
				100*s.Accuracy(), s.Right, s.Matched, 100*s.MatchedShare(), 100*w.WER, start)
			if run.label == "system" {
				fmt.Printf("<!-- %s: %s -->\n", filepath.Base(name), lossBreakdown(s, oracle, res.Diarization, timed))
				if timed {
					st, en := signedTimeErrors(s)
					fmt.Printf("<!-- %s: median signed error (transcript − reference) start %+.3f s, end %+.3f s -->\n", filepath.Base(name), st, en)
				}
				if os.Getenv("WHOSPOKE_TRANSCRIBE_EVAL_WORDS") != "" {
					dumpWords(s)
				}
			}
		}
		a.Close()
	}
}

// relabel gives words the speakers of turns, as Transcribe would.
func relabel(ws []api.WordItem, a *annotation.Annotation) []api.WordItem {
	in := make([]whisper.Word, len(ws))
	for i, w := range ws {
		in[i] = whisper.Word{Start: w.Start, End: w.End, Text: w.Text}
	}
	return AssignSpeakers(in, sortedTurns(a))
}

func timedWords(ws []api.WordItem) []eval.TimedWord {
	out := make([]eval.TimedWord, 0, len(ws))
	for _, w := range ws {
		out = append(out, eval.TimedWord{Start: w.Start, End: w.End, Text: w.Text, Speaker: w.Speaker})
	}
	return out
}

// medianStartError is the median |start difference| of matched words.
func medianStartError(s eval.Attribution) float64 {
	var d []float64
	for i, j := range s.Match {
		if j >= 0 {
			d = append(d, math.Abs(s.Ref[i].Start-s.Hyp[j].Start))
		}
	}
	if len(d) == 0 {
		return math.NaN()
	}
	sort.Float64s(d)
	return d[len(d)/2]
}

// signedTimeErrors are the median signed start and end differences
// (transcript − reference) of matched words: a constant lag shows here.
func signedTimeErrors(s eval.Attribution) (start, end float64) {
	var ds, de []float64
	for i, j := range s.Match {
		if j >= 0 {
			ds = append(ds, s.Hyp[j].Start-s.Ref[i].Start)
			de = append(de, s.Hyp[j].End-s.Ref[i].End)
		}
	}
	if len(ds) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(ds)
	sort.Float64s(de)
	return ds[len(ds)/2], de[len(de)/2]
}

// lossBreakdown classifies the matched words with the wrong speaker. Cause
// (first that applies): "merged" = the transcript word also holds a piece
// matched to another reference speaker (a numeral across a turn change);
// "diarization" = the diarization's most active speaker over the reference
// word's own span (an STM's: its segment) maps to another speaker, so
// perfect word times would not help; "word time" = the transcript word
// overlaps less than half of the reference word; else "other". Flags
// counted alongside: within 0.5 s of a reference turn's edge, in reference
// overlap, in a reference turn < 1 s.
// timed says the reference has word times (not an STM's turn times).
func lossBreakdown(s eval.Attribution, ref, diar *annotation.Annotation, timed bool) string {
	causes := map[string]int{}
	flags := map[string]int{}
	wrong := 0
	owner := map[int]string{} // transcript word pieces by source word → reference speakers
	for i, j := range s.Match {
		if j >= 0 {
			h := s.Hyp[j]
			key := int(math.Round(h.Start*1000))*100000 + int(math.Round(h.End*1000))
			if o, ok := owner[key]; ok && o != s.Ref[i].Speaker {
				owner[key] = "*"
			} else if !ok {
				owner[key] = s.Ref[i].Speaker
			}
		}
	}
	for i, j := range s.Match {
		if j < 0 || s.RightAt(i) {
			continue
		}
		wrong++
		r, h := s.Ref[i], s.Hyp[j]
		span := annotation.Segment{Start: r.Start, End: r.End}
		switch {
		case owner[int(math.Round(h.Start*1000))*100000+int(math.Round(h.End*1000))] == "*":
			causes["merged"]++
		case s.Mapping[mostActive(sortedTurns(diar), span.Start, span.End)] != r.Speaker:
			causes["diarization"]++
		case timed && math.Min(r.End, h.End)-math.Max(r.Start, h.Start) < (r.End-r.Start)/2:
			causes["word time"]++
		default:
			causes["other"]++
		}
		if !timed {
			continue
		}
		for _, t := range ref.Turns {
			if t.Speaker != r.Speaker && t.Start < r.End && t.End > r.Start {
				flags["overlap"]++
				break
			}
		}
		for _, t := range ref.Turns {
			if t.Speaker == r.Speaker && t.Start <= r.Start+0.01 && t.End >= r.End-0.01 {
				if r.Start-t.Start < 0.5 || t.End-r.End < 0.5 {
					flags["≤0.5 s from turn edge"]++
				}
				if t.End-t.Start < 1 {
					flags["turn < 1 s"]++
				}
				break
			}
		}
	}
	return fmt.Sprintf("wrong %d: causes %v; flags %v", wrong, causes, flags)
}

func dumpWords(s eval.Attribution) {
	for i, r := range s.Ref {
		j := s.Match[i]
		h := eval.TimedWord{}
		if j >= 0 {
			h = s.Hyp[j]
		}
		fmt.Printf("  %7.2f %7.2f %-14s %-8s | %7.2f %7.2f %-10s %-8s %v\n", r.Start, r.End, r.Speaker, r.Text, h.Start, h.End, h.Speaker, h.Text, s.RightAt(i))
	}
}
