// Command whospoke is the speaker-diarization CLI and server. Each subcommand
// lives in its own file and registers itself on rootCmd; the commands stay
// thin and call into the domain packages.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/models"
)

var rootCmd = &cobra.Command{
	Use:   "whospoke",
	Short: "Who spoke when: self-hosted speaker diarization",
	Long: `whospoke says who spoke when in recordings and live audio, who the speakers
are (voiceprints), and who said which words, on your own CPU.`,
	Example: `  whospoke diarize meeting.wav --format txt
  whospoke transcribe meeting.wav --format txt
  whospoke serve
  whospoke models`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// Flags of the commands that load models; each such command registers them
// itself, so commands that load none do not show them.
var (
	modelsDirFlag string
	threadsFlag   int
)

const modelsFlagUsage = "models folder (default $WHOSPOKE_MODELS, else $XDG_DATA_HOME/whospoke/models)"

func addModelsFlag(c *cobra.Command) {
	c.Flags().StringVar(&modelsDirFlag, "models", "", modelsFlagUsage)
}

func addThreadsFlag(c *cobra.Command) {
	c.Flags().IntVar(&threadsFlag, "threads", 0, "threads per model (0 = all cores)")
}

// loadPipeline loads the diarization models once for a whole command;
// tune, if given, adjusts the default configuration first.
func loadPipeline(tune ...func(*diarize.Config)) (*diarize.Pipeline, error) {
	dir := models.ResolveDir(modelsDirFlag)
	for _, name := range []string{"segmentation", "embedding", "silero-vad"} {
		if _, err := models.Path(dir, name); err != nil {
			return nil, err
		}
	}
	cfg := diarize.DefaultConfig(dir).WithThreads(threadsFlag)
	for _, t := range tune {
		t(&cfg)
	}
	return diarize.New(cfg)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "whospoke:", err)
		os.Exit(1)
	}
}
