package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/models"
)

var modelsCmd = &cobra.Command{
	Use:   "models",
	Short: "Say which model files whospoke needs, and install, download or list them",
	Long: `Without a subcommand: every file whospoke needs, with its size, sha256 and
licence, whether it is in the models folder, and how to get it there.

The models folder is --models, else $WHOSPOKE_MODELS, else
$XDG_DATA_HOME/whospoke/models, else ~/.local/share/whospoke/models. Every
file is checked against the sha256 built into whospoke; docs/MODELS.md says
where each model comes from and how it was converted.`,
	Example: `  whospoke models                                         # what is needed, and what is there
  whospoke models pull --from https://models.example.org/whospoke/
  whospoke models pull --from /mnt/usb/whospoke-models segmentation embedding
  whospoke models list --verify
  WHOSPOKE_MODELS=/srv/models whospoke diarize meeting.wav  # use a folder in place`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return writeManifest(cmd.OutOrStdout(), models.ResolveDir(modelsDirFlag))
	},
}

// writeManifest prints every model's files in sha256sum's format (so a
// folder can be checked with `sha256sum -c`), its licence and state, then
// how to obtain the files.
func writeManifest(w io.Writer, dir string) error {
	status, err := models.List(dir, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "models folder: %s\n", dir)
	for _, s := range status {
		m := s.Model
		fmt.Fprintf(w, "\n%s (%s): %s\n", m.Name, s.State(), m.Description)
		fmt.Fprintf(w, "  used by: %s\n  licence: %s, %s\n", m.UsedBy, m.LicenceName, m.Licence)
		for _, f := range s.Files {
			fmt.Fprintf(w, "  %s  %s  (%s, %s)\n", f.SHA256, f.Path, humanBytes(f.Size), f.State)
		}
	}
	fmt.Fprint(w, `
To get the files: copy a models folder with this layout from a machine that
has one and point whospoke at it (--models DIR or WHOSPOKE_MODELS=DIR), or
install them into the models folder, sha256-checked, from a folder or from
any web server that serves such a folder (e.g. python3 -m http.server):
  whospoke models pull --from DIR|URL [NAME...]
Where each file comes from, its licence and how it was converted:
docs/MODELS.md in the whospoke repository.
`)
	return nil
}

func humanBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f kB", float64(n)/1e3)
}

var modelsFrom string

var modelsInstallCmd = &cobra.Command{
	Use:   "install --from DIR [NAME...]",
	Short: "Copy models from a local folder (all of them when no NAME is given)",
	Example: `  whospoke models install --from /mnt/usb/whospoke-models
  WHOSPOKE_MODELS_FROM=/mnt/usb/models whospoke models install whisper-base`,
	ValidArgs: models.Names(),
	RunE: func(cmd *cobra.Command, args []string) error {
		from := modelsFrom
		if from == "" {
			from = os.Getenv("WHOSPOKE_MODELS_FROM")
		}
		if from == "" {
			return errors.New("no source folder: pass --from DIR (a copy of a models folder) " +
				"or set WHOSPOKE_MODELS_FROM; to download instead, use `whospoke models pull --from URL`")
		}
		return models.Install(cmd.Context(), from, models.ResolveDir(modelsDirFlag), args, cmd.OutOrStdout())
	},
}

var modelsPullFrom, modelsBaseURL string

var modelsPullCmd = &cobra.Command{
	Use:   "pull --from DIR|URL [NAME...]",
	Short: "Install models from a folder or an http(s) URL (all of them when no NAME is given)",
	Long: `Install models, sha256-checked, from a folder with the models folder's layout
or from an http(s) base URL that serves one (URL/<file path>, the paths
` + "`whospoke models`" + ` lists). A file that fails its check is not installed.`,
	Example: `  whospoke models pull --from https://models.example.org/whospoke/
  whospoke models pull --from /mnt/usb/whospoke-models
  whospoke models pull --from http://10.0.0.5:8000/ whisper-base`,
	ValidArgs: models.Names(),
	RunE: func(cmd *cobra.Command, args []string) error {
		from := modelsPullFrom
		if from == "" {
			from = modelsBaseURL
		}
		if from == "" {
			return errors.New("no source: pass --from DIR or --from URL (see `whospoke models`)")
		}
		return models.Get(cmd.Context(), from, models.ResolveDir(modelsDirFlag), args, cmd.OutOrStdout())
	},
}

var modelsVerify bool

var modelsListCmd = &cobra.Command{
	Use:     "list",
	Short:   "Show each model, whether it is installed, and where",
	Example: "  whospoke models list\n  whospoke models list --verify --models /srv/models",
	Args:    cobra.NoArgs,
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
			return fmt.Errorf("%d damaged file(s); reinstall with `whospoke models pull --from DIR|URL`", len(damaged))
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
	modelsPullCmd.Flags().StringVar(&modelsPullFrom, "from", "", "a models folder, or the http(s) URL one is served under")
	modelsPullCmd.Flags().StringVar(&modelsBaseURL, "base-url", "", "the same as --from URL")
	_ = modelsPullCmd.Flags().MarkDeprecated("base-url", "use --from URL") // fails only for an undefined flag
	modelsListCmd.Flags().BoolVar(&modelsVerify, "verify", false, "also check every file's sha256")
	modelsCmd.PersistentFlags().StringVar(&modelsDirFlag, "models", "", modelsFlagUsage)
	modelsCmd.AddCommand(modelsInstallCmd, modelsPullCmd, modelsListCmd)
	rootCmd.AddCommand(modelsCmd)
}
