// Package models knows which model files whospoke needs and where they
// live: it installs them from a folder or a web server (sha256-checked,
// atomically), reports what is installed, and resolves a model's path for
// the pipeline.
package models

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Model is one installable unit: the files a pipeline stage loads plus the
// licence that must travel with them.
type Model struct {
	Name        string // what users and the pipeline call it: "segmentation", "whisper-base", …
	Description string
	Fixture     bool   // test data rather than a model
	Main        string // what Path returns: the model file, or the model's folder when it has several
	Licence     string // the licence file, also listed in Files
	LicenceName string // what the licence is: "MIT", "Apache-2.0"
	UsedBy      string // what needs it, for users choosing what to install
	Files       []File // every file to install
}

// File is one file of a model, as published.
type File struct {
	Path   string // slash-separated, relative to the models folder
	Size   int64  // bytes
	SHA256 string // lower-case hex
}

// Names lists the model names in manifest order, for help text and shell
// completion.
func Names() []string {
	names := make([]string, len(manifest))
	for i, m := range manifest {
		names[i] = m.Name
	}
	return names
}

func lookup(name string) (Model, error) {
	for _, m := range manifest {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("unknown model %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Dir is the default models folder: $WHOSPOKE_MODELS, else
// $XDG_DATA_HOME/whospoke/models, else ~/.local/share/whospoke/models.
func Dir() string {
	if d := os.Getenv("WHOSPOKE_MODELS"); d != "" {
		return d
	}
	// The XDG spec says to ignore a relative XDG_DATA_HOME.
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "whospoke", "models")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// No home (a bare container): a visible folder under the working
		// directory beats failing every command that needs a model.
		return "whospoke-models"
	}
	return filepath.Join(home, ".local", "share", "whospoke", "models")
}

// ResolveDir is the models folder a command should use: the --models flag's
// value when set, else Dir().
func ResolveDir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return Dir()
}

// Path returns the absolute path of the named model in dir (its file, or its
// folder for multi-file models such as Whisper), or an error telling the user
// how to install it. It checks that every file is present with the right
// size; `whospoke models list --verify` checks the contents.
func Path(dir, name string) (string, error) {
	m, err := lookup(name)
	if err != nil {
		return "", err
	}
	for _, f := range m.Files {
		st, err := check(localPath(dir, f), f, sizeOnly)
		if err != nil {
			return "", err
		}
		if st != Present {
			return "", fmt.Errorf("model %s is not installed in %s (%s is %s); run: whospoke models install %s",
				name, dir, f.Path, st, name)
		}
	}
	return filepath.Abs(filepath.Join(dir, filepath.FromSlash(m.Main)))
}

func localPath(dir string, f File) string { return filepath.Join(dir, filepath.FromSlash(f.Path)) }
