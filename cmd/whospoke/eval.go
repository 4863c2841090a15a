package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/eval"
)

var evalFlags struct {
	ref, hyp, uem string
	collar        float64
	skipOverlap   bool
	json          bool
}

var evalCmd = &cobra.Command{
	Use:   "eval --ref REF.rttm|DIR --hyp HYP.rttm|DIR [--uem U.uem|DIR]",
	Short: "Score diarization against a reference: DER (as NIST md-eval) and JER",
	Long: `Score hypothesis RTTMs against reference RTTMs, matching files by RTTM file id.
Prints per-file and pooled DER (scored, missed, false-alarm and confusion
seconds and percent) and JER. Without --uem each file is scored from its first
to its last reference turn, as md-eval does; a --uem directory supplies
<file id>.uem for the files that have one.`,
	Example: `  whospoke diarize meeting.wav -o hyp.rttm
  whospoke eval --ref meeting.rttm --hyp hyp.rttm
  whospoke eval --ref ref/ --hyp hyp/ --uem uem/ --collar 0.25 --json`,
	Args: cobra.NoArgs,
	RunE: runEval,
}

func init() {
	f := evalCmd.Flags()
	f.StringVar(&evalFlags.ref, "ref", "", "reference RTTM file or directory of .rttm files")
	f.StringVar(&evalFlags.hyp, "hyp", "", "hypothesis RTTM file or directory of .rttm files")
	f.StringVar(&evalFlags.uem, "uem", "", "UEM file, or directory of <file id>.uem files")
	f.Float64Var(&evalFlags.collar, "collar", 0, "no-score collar in seconds around reference boundaries")
	f.BoolVar(&evalFlags.skipOverlap, "skip-overlap", false, "do not score regions with overlapping reference speakers")
	f.BoolVar(&evalFlags.json, "json", false, "print the report as JSON")
	rootCmd.AddCommand(evalCmd)
}

func runEval(cmd *cobra.Command, _ []string) error {
	if evalFlags.ref == "" || evalFlags.hyp == "" {
		return errors.New("eval: --ref and --hyp are required")
	}
	rep, err := eval.ScorePaths(evalFlags.ref, evalFlags.hyp, evalFlags.uem,
		eval.Options{Collar: evalFlags.collar, SkipOverlap: evalFlags.skipOverlap})
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	for _, uri := range rep.NoHypothesis {
		fmt.Fprintf(stderr, "warning: no hypothesis for %s; scored as missed\n", uri)
	}
	for _, uri := range rep.NoReference {
		fmt.Fprintf(stderr, "warning: no reference for %s; not scored\n", uri)
	}
	if evalFlags.json {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return eval.WriteTable(cmd.OutOrStdout(), rep)
}
