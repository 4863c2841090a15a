package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/bench"
)

var benchFlags struct {
	set, out, peer string
	hours          []float64
}

var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure DER, speed and memory on an evaluation set and write BENCHMARKS.md",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		p, err := loadPipeline()
		if err != nil {
			return err
		}
		defer p.Close()
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		rep, err := bench.Run(cmd.Context(), p, bench.Config{
			Set: benchFlags.set, Binary: exe, Threads: threadsFlag, LongHours: benchFlags.hours,
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
			defer f.Close()
			w = f
		}
		fmt.Fprintln(w, "# whospoke benchmarks")
		fmt.Fprintln(w)
		return bench.WriteMarkdown(w, rep)
	},
}

func init() {
	f := benchCmd.Flags()
	f.StringVar(&benchFlags.set, "set", "../shared/eval/dev", "evaluation set (real/ and sim/ with .wav, .rttm, .uem)")
	f.StringVar(&benchFlags.out, "out", "-", "where to write the markdown report (- = stdout)")
	f.StringVar(&benchFlags.peer, "peer", "", "shared/tools folder of the reference system to run side by side (e.g. ../shared/tools)")
	f.Float64SliceVar(&benchFlags.hours, "long", []float64{1, 4}, "lengths in hours of concatenated long files to time (empty to skip)")
	rootCmd.AddCommand(benchCmd)
}
