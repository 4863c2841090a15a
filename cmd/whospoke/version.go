package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/models"
	"github.com/whospoke/whospoke/onnx"
)

// version and commit are set at link time by scripts/setup.sh
// (-ldflags "-X main.version=… -X main.commit=…"); without them the Go build
// information fills in what it knows.
var version, commit string

var versionCmd = &cobra.Command{
	Use:   "version",
	Short: "Print the version, commit, Go and ONNX Runtime versions, and the models found",
	Example: `  whospoke version
  whospoke --version
  whospoke version --models /srv/whospoke-models`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		writeVersion(cmd.OutOrStdout(), models.ResolveDir(modelsDirFlag))
		return nil
	},
}

func init() {
	addModelsFlag(versionCmd)
	rootCmd.AddCommand(versionCmd)
	rootCmd.Version = buildVersion()
	// --version prints the same report as the command (the default models
	// folder: the root command takes no --models).
	cobra.AddTemplateFunc("versionReport", func() string {
		var b strings.Builder
		writeVersion(&b, models.ResolveDir(""))
		return b.String()
	})
	rootCmd.SetVersionTemplate("{{versionReport}}")
}

// buildVersion is the link-time version, else the module version Go stamped
// (a tag or pseudo-version when built from a git checkout), else "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// buildCommit is the link-time commit, else the VCS revision Go stamped
// (absent with -buildvcs=false), marked "+modified" for a dirty tree.
func buildCommit() string {
	if commit != "" {
		return commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + modified
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

// writeVersion writes the report. ONNX Runtime's version comes from the
// library this binary loads (loading it is the only way to ask), so a broken
// install shows here as the error it would give every model command.
func writeVersion(w io.Writer, modelsDir string) {
	fmt.Fprintf(w, "whospoke     %s\n", buildVersion())
	fmt.Fprintf(w, "commit       %s\n", buildCommit())
	fmt.Fprintf(w, "go           %s\n", goVersion())
	if err := onnx.Init(""); err != nil {
		fmt.Fprintf(w, "onnxruntime  not loaded: %v\n", err)
	} else {
		fmt.Fprintf(w, "onnxruntime  %s (%s)\n", onnx.Version(), onnx.LibraryPath())
	}
	fmt.Fprintf(w, "models       %s\n", modelsDir)
	status, err := models.List(modelsDir, false)
	if err != nil {
		fmt.Fprintf(w, "             %v\n", err)
		return
	}
	var found, missing []string
	for _, s := range status {
		if s.State().OK() {
			found = append(found, s.Model.Name)
		} else {
			missing = append(missing, s.Model.Name)
		}
	}
	fmt.Fprintf(w, "  installed  %s\n", listOrNone(found))
	fmt.Fprintf(w, "  missing    %s\n", listOrNone(missing))
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
