package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/models"
)

var modelsCmd = &cobra.Command{
	Use:   "models",
	Short: "Install, download and list the model files",
	Long: `Manage the models folder (--models, else $WHOSPOKE_MODELS, else
$XDG_DATA_HOME/whospoke/models, else ~/.local/share/whospoke/models).

Models: ` + strings.Join(models.Names(), ", ") + `.
Every file is checked against the sha256 built into whospoke.`,
}

var modelsFrom string

var modelsInstallCmd = &cobra.Command{
	Use:       "install [NAME...]",
	Short:     "Copy models from a local folder (all of them when no NAME is given)",
	ValidArgs: models.Names(),
	RunE: func(cmd *cobra.Command, args []string) error {
		from := modelsFrom
		if from == "" {
			from = os.Getenv("WHOSPOKE_MODELS_FROM")
		}
		if from == "" {
			return errors.New("no source folder: pass --from DIR (a copy of the project's models folder) " +
				"or set WHOSPOKE_MODELS_FROM; to download instead, use `whospoke models pull --base-url URL`")
		}
		return models.Install(cmd.Context(), from, models.ResolveDir(modelsDirFlag), args, cmd.OutOrStdout())
	},
}

var modelsBaseURL string

var modelsPullCmd = &cobra.Command{
	Use:       "pull --base-url URL [NAME...]",
	Short:     "Download models from URL/<file path> (all of them when no NAME is given)",
	ValidArgs: models.Names(),
	RunE: func(cmd *cobra.Command, args []string) error {
		return models.Pull(cmd.Context(), modelsBaseURL, models.ResolveDir(modelsDirFlag), args, cmd.OutOrStdout())
	},
}

var modelsVerify bool

var modelsListCmd = &cobra.Command{
	Use:   "list",
	Short: "Show each model, whether it is installed, and where",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		dir := models.ResolveDir(modelsDirFlag)
		status, err := models.List(dir, modelsVerify)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "models folder: %s\n", dir)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tPATH\tDESCRIPTION")
		damaged := map[string]bool{} // by path: models share licence files
		for _, s := range status {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Model.Name, s.State(), s.Path, s.Model.Description)
			// Name the bad files of a damaged or half-installed model; a
			// wholly missing one needs no list.
			for _, f := range s.Files {
				if !f.State.OK() && partly(s) {
					fmt.Fprintf(tw, "\t%s\t%s\t\n", f.State, f.Local)
				}
				if f.State == models.Corrupt || f.State == models.WrongSize {
					damaged[f.Path] = true
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(damaged) > 0 {
			return fmt.Errorf("%d damaged file(s); reinstall with `whospoke models install`", len(damaged))
		}
		return nil
	},
}

// partly reports whether some but not all of a model's files are there.
func partly(s models.Status) bool {
	for _, f := range s.Files {
		if f.State != models.Missing {
			return true
		}
	}
	return false
}

func init() {
	modelsInstallCmd.Flags().StringVar(&modelsFrom, "from", "", "folder to copy models from (default $WHOSPOKE_MODELS_FROM)")
	modelsPullCmd.Flags().StringVar(&modelsBaseURL, "base-url", "", "URL the model files are published under (required)")
	_ = modelsPullCmd.MarkFlagRequired("base-url") // fails only for an undefined flag
	modelsListCmd.Flags().BoolVar(&modelsVerify, "verify", false, "also check every file's sha256")
	modelsCmd.AddCommand(modelsInstallCmd, modelsPullCmd, modelsListCmd)
	rootCmd.AddCommand(modelsCmd)
}
