package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/bench"
	"github.com/whospoke/whospoke/diarize"
)

var benchFlags struct {
	set, out, peer string
	hours          []float64
	// Settings to measure against the defaults (BENCHMARKS.md's design table).
	step, threshold, chunk, hop float64
	minCluster                  int
	segModel                    string
}

var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure DER, speed and memory on an evaluation set and write BENCHMARKS.md",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		p, err := loadPipeline(func(c *diarize.Config) {
			f := benchFlags
			if f.step > 0 {
				c.Segmentation.Step = f.step
			}
			if f.threshold > 0 {
				c.Clustering.Threshold = f.threshold
			}
			if f.minCluster > 0 {
				c.Clustering.MinClusterSize = f.minCluster
			}
			if f.chunk > 0 {
				c.Embed.ChunkSeconds = f.chunk
			}
			if f.hop > 0 {
				c.Embed.HopSeconds = f.hop
			}
			if f.segModel != "" {
				c.Segmentation.Model = f.segModel
			}
		})
		if err != nil {
			return err
		}
		defer p.Close()
		var hours []float64
		for _, h := range benchFlags.hours {
			if h > 0 {
				hours = append(hours, h)
			}
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		rep, err := bench.Run(cmd.Context(), p, bench.Config{
			Set: benchFlags.set, Binary: exe, Threads: threadsFlag, LongHours: hours,
			Peer: benchFlags.peer, Log: os.Stderr,
		})
		if err != nil {
			return err
		}
		rep.Command = "whospoke " + strings.Join(os.Args[1:], " ")
		w := cmd.OutOrStdout()
		if benchFlags.out != "" && benchFlags.out != "-" {
			f, err := os.Create(benchFlags.out)
			if err != nil {
				return err
			}
			w = f
		}
		fmt.Fprintln(w, "# whospoke benchmarks")
		fmt.Fprintln(w)
		err = bench.WriteMarkdown(w, rep)
		if f, ok := w.(*os.File); ok && f != os.Stdout {
			// A failed close means a truncated report: an error, not exit 0.
			err = errors.Join(err, f.Close())
		}
		return err
	},
}

func init() {
	f := benchCmd.Flags()
	f.StringVar(&benchFlags.set, "set", "../shared/eval/dev", "evaluation set (real/ and sim/ with .wav, .rttm, .uem)")
	f.StringVar(&benchFlags.out, "out", "-", "where to write the markdown report (- = stdout)")
	f.StringVar(&benchFlags.peer, "peer", "", "shared/tools folder of the reference system to run side by side (e.g. ../shared/tools)")
	f.Float64SliceVar(&benchFlags.hours, "long", []float64{1, 4}, "lengths in hours of concatenated long files to time (0 to skip)")
	f.Float64Var(&benchFlags.step, "step", 0, "segmentation step in seconds (0 = default)")
	f.Float64Var(&benchFlags.threshold, "threshold", 0, "clustering distance threshold (0 = default)")
	f.IntVar(&benchFlags.minCluster, "min-cluster-size", 0, "smallest cluster that is a speaker (0 = default)")
	f.Float64Var(&benchFlags.chunk, "chunk", 0, "embedding chunk length in seconds (0 = default)")
	f.Float64Var(&benchFlags.hop, "chunk-hop", 0, "embedding chunk step in seconds (0 = default)")
	f.StringVar(&benchFlags.segModel, "segmentation-model", "", "segmentation model file (e.g. the int8 one)")
	rootCmd.AddCommand(benchCmd)
}
