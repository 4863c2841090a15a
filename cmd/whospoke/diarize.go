package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/output"
)

var diarizeFlags struct {
	num, minSpk, maxSpk int
	exclusive           bool
	format, out, plot   string
	channel             int
	maxDuration         time.Duration
}

var diarizeCmd = &cobra.Command{
	Use:   "diarize FILE...",
	Short: "Say who spoke when in audio or video files",
	Long: `Diarize one or more files. With one file, -o names the output file; with
several, -o names a folder that gets one output per input. Without -o the
results go to standard output.`,
	Example: `  whospoke diarize meeting.wav                          # RTTM on standard output
  whospoke diarize meeting.wav --format txt            # one readable line per turn
  whospoke diarize meeting.mp4 --format json -o meeting.json --plot meeting.svg
  whospoke diarize call.wav --num-speakers 2 --exclusive --format srt
  whospoke diarize *.wav -o rttm/                      # one output per input`,
	Args: cobra.MinimumNArgs(1),
	RunE: runDiarize,
}

func init() {
	f := diarizeCmd.Flags()
	f.IntVar(&diarizeFlags.num, "num-speakers", 0, "exact number of speakers")
	f.IntVar(&diarizeFlags.minSpk, "min-speakers", 0, "fewest speakers")
	f.IntVar(&diarizeFlags.maxSpk, "max-speakers", 0, "most speakers")
	f.BoolVar(&diarizeFlags.exclusive, "exclusive", false, "one speaker at a time (no overlap)")
	f.StringVar(&diarizeFlags.format, "format", "rttm", "output format: rttm, json, srt, vtt or txt (one readable line per turn)")
	f.StringVarP(&diarizeFlags.out, "output", "o", "", "output file (one input) or folder (several)")
	f.StringVar(&diarizeFlags.plot, "plot", "", "also draw a timeline picture (.svg or .png; a folder with several inputs)")
	f.IntVar(&diarizeFlags.channel, "channel", -1, "use only this channel (0-based); default: mix all channels")
	f.DurationVar(&diarizeFlags.maxDuration, "max-duration", audio.DefaultMaxDuration, "refuse audio longer than this")
	addModelsFlag(diarizeCmd)
	addThreadsFlag(diarizeCmd)
	rootCmd.AddCommand(diarizeCmd)
}

func runDiarize(cmd *cobra.Command, files []string) error {
	fl := diarizeFlags
	switch fl.format {
	case "rttm", "json", "srt", "vtt", "txt":
	default:
		return fmt.Errorf("unknown --format %q (want rttm, json, srt, vtt or txt)", fl.format)
	}
	if fl.plot != "" && len(files) == 1 {
		if f := output.Format(fl.plot); f != "svg" && f != "png" {
			return fmt.Errorf("--plot %s: want a .svg or .png file", fl.plot)
		}
	}
	opt := diarize.Options{NumSpeakers: fl.num, MinSpeakers: fl.minSpk, MaxSpeakers: fl.maxSpk}
	if err := opt.Validate(); err != nil {
		return err
	}
	many := len(files) > 1
	if err := prepareOutput(fl.out, many); err != nil {
		return err
	}
	p, err := loadPipeline()
	if err != nil {
		return err
	}
	defer p.Close()

	return eachFile(cmd, files, func(path string) error { return diarizeFile(cmd, p, path, opt, many) })
}

func diarizeFile(cmd *cobra.Command, p *diarize.Pipeline, path string, opt diarize.Options, many bool) error {
	fl := diarizeFlags
	a, err := openInput(cmd, path, fl.channel, fl.maxDuration)
	if err != nil {
		return err
	}
	defer a.Close()
	if bar := newProgress(a.Duration()); bar != nil {
		opt.Progress = bar
	}
	res, err := p.Diarize(cmd.Context(), a, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	id := fileID(path)
	res.URI = id
	res.Diarization.URI, res.Exclusive.URI = id, id
	ann := res.Diarization
	if fl.exclusive {
		ann = res.Exclusive
	}

	w, closeOut, err := openOutput(cmd, fl.out, id, fl.format, many)
	if err != nil {
		return err
	}
	switch fl.format {
	case "rttm":
		err = output.WriteRTTM(w, ann)
	case "json":
		err = encodeJSON(w, output.JSON(res, output.JSONOptions{Exclusive: true, Confidence: true, TurnLevelConfidence: true}), fl.out, many)
	case "srt":
		err = output.WriteSRT(w, output.CuesFromAnnotation(ann))
	case "vtt":
		err = output.WriteVTT(w, output.CuesFromAnnotation(ann))
	case "txt":
		err = output.WriteTurnsText(w, ann)
	}
	// A failed close (disk full) means a truncated file: an error, not exit 0.
	if err = errors.Join(err, closeOut()); err != nil {
		return err
	}
	if fl.plot != "" {
		err = writePlot(fl.plot, id, many, ann, res.Duration)
	}
	return err
}

func writePlot(plot, id string, many bool, ann *annotation.Annotation, duration float64) error {
	name := plot
	if many {
		if err := os.MkdirAll(plot, 0o755); err != nil {
			return err
		}
		name = filepath.Join(plot, id+".svg")
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if output.Format(name) == "png" {
		err = output.WritePNG(f, ann, duration)
	} else {
		err = output.WriteSVG(f, ann, duration)
	}
	return errors.Join(err, f.Close())
}

// newProgress returns a progress callback drawing a bar on stderr, or nil
// when stderr is not a terminal or the file is short (under a minute).
func newProgress(duration float64) func(stage string, done, total int) {
	if duration < 60 || !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	var current string
	return func(stage string, done, total int) {
		if stage != current {
			if bar != nil {
				bar.Finish()
			}
			current = stage
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription(stage), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
		}
		bar.Set(done)
		if done == total {
			bar.Finish()
		}
	}
}
