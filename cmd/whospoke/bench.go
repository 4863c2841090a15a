package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/bench"
	"github.com/whospoke/whospoke/diarize"
)

var benchFlags struct {
	set, out, peer, long, condition string
	// Settings to measure against the defaults (BENCHMARKS.md's design table).
	step, threshold, chunk, hop float64
	minCluster                  int
	segModel                    string
	calls                       bool
	callsSeed                   uint64
}

var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure DER, speed and memory on an evaluation set and write BENCHMARKS.md",
	Long: `Diarize every file of an evaluation set (real/ and sim/, each with .wav, .rttm
and .uem files), score it, time long concatenated files and write the report
as markdown. The calls part (on unless --calls=false) adds ten two-speaker
conversations built from the set's single-speaker recordings in speakers/.
The tuning flags measure one setting against the defaults.`,
	Example: `  whospoke bench --set eval/dev --out BENCHMARKS.md
  whospoke bench --set eval/dev --long 0 --threshold 0.7   # DER only, another threshold
  WHOSPOKE_DEV_SET=eval/dev whospoke bench --long 1 --peer tools/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		set := flagOrEnv(benchFlags.set, "WHOSPOKE_DEV_SET")
		if set == "" {
			return errors.New("no evaluation set: pass --set DIR or set WHOSPOKE_DEV_SET")
		}
		hours, err := parseHours(benchFlags.long)
		if err != nil {
			return err
		}
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
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		rep, err := bench.Run(cmd.Context(), p, bench.Config{
			Set: set, Calls: benchFlags.calls, CallsSeed: benchFlags.callsSeed, Binary: exe, Threads: threadsFlag, LongHours: hours,
			Peer: benchFlags.peer, Conditions: parseConditions(benchFlags.condition), Log: os.Stderr,
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
	f.StringVar(&benchFlags.set, "set", "", "evaluation set: a `folder` with real/ and sim/ (default $WHOSPOKE_DEV_SET)")
	f.StringVar(&benchFlags.out, "out", "-", "where to write the markdown report (- = stdout)")
	f.StringVar(&benchFlags.peer, "peer", "", "`folder` of the reference system's runner (run_peer_set.sh) to measure side by side")
	f.StringVar(&benchFlags.long, "long", "1,4", "comma-separated `hours`: lengths of concatenated long files to time (0 = none)")
	f.BoolVar(&benchFlags.calls, "calls", true, "also score the calls part: ten two-speaker conversations built from the set's speakers/ recordings, cached in the user cache dir (--calls=false to skip)")
	f.Uint64Var(&benchFlags.callsSeed, "calls-seed", bench.DefaultCallsSeed, "seed that lays out the calls part: another seed cuts and places the same recordings differently (0 = the default)")
	f.StringVar(&benchFlags.condition, "condition", bench.Clean, "comma-separated channels to score every file through: clean, phone (300–3400 Hz, 8 kHz μ-law), narrowband (8 kHz μ-law only); converted files are cached in the user cache dir")
	f.Float64Var(&benchFlags.step, "step", 0, "segmentation step in seconds (0 = default)")
	f.Float64Var(&benchFlags.threshold, "threshold", 0, "clustering distance threshold (0 = default)")
	f.IntVar(&benchFlags.minCluster, "min-cluster-size", 0, "smallest cluster that is a speaker (0 = default)")
	f.Float64Var(&benchFlags.chunk, "chunk", 0, "embedding chunk length in seconds (0 = default)")
	f.Float64Var(&benchFlags.hop, "chunk-hop", 0, "embedding chunk step in seconds (0 = default)")
	f.StringVar(&benchFlags.segModel, "segmentation-model", "", "segmentation model file (e.g. the int8 one)")
	addModelsFlag(benchCmd)
	addThreadsFlag(benchCmd)
	rootCmd.AddCommand(benchCmd)
}

// parseHours reads --long: positive lengths in hours, 0 entries skipped.
func parseHours(s string) ([]float64, error) {
	var hours []float64
	for _, f := range strings.Split(s, ",") {
		h, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || h < 0 || math.IsInf(h, 0) {
			return nil, fmt.Errorf("--long %q: want comma-separated hours such as 1,4 (0 = none)", s)
		}
		if h > 0 {
			hours = append(hours, h)
		}
	}
	return hours, nil
}

// parseConditions reads --condition; bench.Run rejects an unknown name.
func parseConditions(s string) []string {
	var conds []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			conds = append(conds, c)
		}
	}
	return conds
}
