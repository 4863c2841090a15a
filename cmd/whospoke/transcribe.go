package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/models"
	"github.com/whospoke/whospoke/output"
	"github.com/whospoke/whospoke/transcribe"
	"github.com/whospoke/whospoke/whisper"
)

var transcribeFlags struct {
	model, language, mode string
	num, minSpk, maxSpk   int
	format, out           string
	channel, batch        int
	maxDuration           time.Duration
}

var transcribeCmd = &cobra.Command{
	Use:   "transcribe FILE...",
	Short: "Transcribe files with each word attributed to its speaker",
	Long: `Diarize, then transcribe with Whisper: every word gets the speaker whose
turn covers most of it, and consecutive words of one speaker form turns
(split at pauses over 1 s). --model tiny.en (default, English, fast) or base
(99 languages; the language is detected unless --language is given).
With one file, -o names the output file; with several, a folder.`,
	Example: `  whospoke transcribe meeting.wav --format txt          # "[00:00:01.240] SPEAKER_00: text"
  whospoke transcribe interview.mp3 --format srt -o interview.srt
  whospoke transcribe entrevista.wav --model base --language es`,
	Args: cobra.MinimumNArgs(1),
	RunE: runTranscribe,
}

func init() {
	f := transcribeCmd.Flags()
	f.StringVar(&transcribeFlags.model, "model", "tiny.en", "speech model: tiny.en, base, or a model folder")
	f.StringVar(&transcribeFlags.language, "language", "", "language code (default: detect with base, English with tiny.en)")
	f.StringVar(&transcribeFlags.mode, "mode", string(transcribe.DefaultMode), "what Whisper decodes: turns (each speaker turn), regions (speech regions) or whole (the whole file)")
	f.IntVar(&transcribeFlags.num, "num-speakers", 0, "exact number of speakers")
	f.IntVar(&transcribeFlags.minSpk, "min-speakers", 0, "fewest speakers")
	f.IntVar(&transcribeFlags.maxSpk, "max-speakers", 0, "most speakers")
	f.StringVar(&transcribeFlags.format, "format", "json", "output format: json, srt, vtt, txt or rttm")
	f.StringVarP(&transcribeFlags.out, "output", "o", "", "output file (one input) or folder (several)")
	f.IntVar(&transcribeFlags.channel, "channel", -1, "use only this channel (0-based); default: mix all channels")
	f.IntVar(&transcribeFlags.batch, "batch", 1, "encoder windows per call for turn starts")
	f.DurationVar(&transcribeFlags.maxDuration, "max-duration", audio.DefaultMaxDuration, "refuse audio longer than this")
	addModelsFlag(transcribeCmd)
	addThreadsFlag(transcribeCmd)
	rootCmd.AddCommand(transcribeCmd)
}

// whisperDir resolves --model: a known short or full model name in the
// models folder, or a folder path.
func whisperDir(name string) (string, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, nil
	}
	full := name
	if !strings.HasPrefix(full, "whisper-") {
		full = "whisper-" + full
	}
	switch full {
	case "whisper-tiny.en", "whisper-base":
	default:
		return "", fmt.Errorf("unknown --model %q (want tiny.en, base or a model folder)", name)
	}
	return models.Path(models.ResolveDir(modelsDirFlag), full)
}

func runTranscribe(cmd *cobra.Command, files []string) error {
	fl := transcribeFlags
	switch fl.format {
	case "json", "srt", "vtt", "txt", "rttm":
	default:
		return fmt.Errorf("unknown --format %q (want json, srt, vtt, txt or rttm)", fl.format)
	}
	topt := transcribe.Options{Mode: transcribe.Mode(fl.mode), Language: fl.language, BatchSize: fl.batch}
	if err := topt.Validate(); err != nil {
		return err
	}
	dopt := diarize.Options{NumSpeakers: fl.num, MinSpeakers: fl.minSpk, MaxSpeakers: fl.maxSpk}
	if err := dopt.Validate(); err != nil {
		return err
	}
	dir, err := whisperDir(fl.model)
	if err != nil {
		return err
	}
	// The command has the cores to itself: Whisper's decoder spins
	// (whisper.Config.Spin; BENCHMARKS.md, "Transcription").
	wm, err := whisper.New(whisper.DefaultConfig(dir).WithThreads(threadsFlag).WithSpin(true))
	if err != nil {
		return err
	}
	defer wm.Close()
	if fl.language != "" && !wm.Multilingual() && fl.language != "en" {
		return fmt.Errorf("--language %s: %s is English-only; use --model base", fl.language, filepath.Base(dir))
	}
	if fl.language != "" && wm.Multilingual() {
		if _, ok := wm.ModelConfig().Special.LangIDByCode[fl.language]; !ok {
			return fmt.Errorf("unknown --language %q (known: %s)", fl.language, strings.Join(wm.ModelConfig().Languages(), ", "))
		}
	}
	many := len(files) > 1
	if err := prepareOutput(fl.out, many); err != nil {
		return err
	}
	p, err := loadPipeline() // fails before any file when a model is missing
	if err != nil {
		return err
	}
	p.Close()

	return eachFile(cmd, files, func(path string) error { return transcribeFile(cmd, wm, path, dopt, topt, many) })
}

// diarizeAlone loads the diarization models for one file and closes them
// before Whisper runs: held beside Whisper's, ONNX Runtime's buffers of
// both made the peak memory (BENCHMARKS.md, "Transcription"); loading
// takes well under a second.
func diarizeAlone(cmd *cobra.Command, a *audio.Audio, opt diarize.Options) (*diarize.Result, error) {
	p, err := loadPipeline()
	if err != nil {
		return nil, err
	}
	res, err := p.Diarize(cmd.Context(), a, opt)
	p.Close()
	debug.FreeOSMemory() // the diarization's Go buffers too
	return res, err
}

func transcribeFile(cmd *cobra.Command, wm *whisper.Model, path string, dopt diarize.Options, topt transcribe.Options, many bool) error {
	fl := transcribeFlags
	a, err := openInput(cmd, path, fl.channel, fl.maxDuration)
	if err != nil {
		return err
	}
	defer a.Close()
	bar := newProgress(a.Duration())
	if bar != nil {
		dopt.Progress = bar
		topt.Progress = func(done, total int) { bar("transcribe", done, total) }
	}
	res, err := diarizeAlone(cmd, a, dopt)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	topt.Activity = res.Diarization
	tr, err := transcribe.Transcribe(cmd.Context(), wm, a, res.Exclusive, topt)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	id := fileID(path)
	res.URI = id
	res.Diarization.URI, res.Exclusive.URI = id, id

	w, closeOut, err := openOutput(cmd, fl.out, id, fl.format, many)
	if err != nil {
		return err
	}
	switch fl.format {
	case "json":
		err = encodeJSON(w, output.TranscriptJSON(res, tr.Transcription(), output.JSONOptions{Exclusive: true}), fl.out, many)
	case "srt":
		err = output.WriteSRT(w, output.CuesFromTranscript(tr.Turns))
	case "vtt":
		err = output.WriteVTT(w, output.CuesFromTranscript(tr.Turns))
	case "txt":
		err = output.WriteTranscriptText(w, tr.Turns)
	case "rttm":
		err = output.WriteRTTM(w, res.Exclusive)
	default:
		err = errors.New("unreachable format")
	}
	// A failed close (disk full) means a truncated file: an error, not exit 0.
	return errors.Join(err, closeOut())
}
