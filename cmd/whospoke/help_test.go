package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths lists every command of the CLI but cobra's own `help` and
// `completion` (cobra documents those itself).
func commandPaths() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && sub.Name() != "completion" {
				walk(sub, append(append([]string(nil), path...), sub.Name()))
			}
		}
	}
	walk(rootCmd, nil)
	return paths
}

// TestHelpHasExamples runs every command's --help: each shows an Examples
// section, and only the commands that load models offer --models and
// --threads.
func TestHelpHasExamples(t *testing.T) {
	usesModels := map[string]bool{"diarize": true, "transcribe": true, "bench": true, "serve": true,
		"version": true, "models": true, "models install": true, "models pull": true, "models list": true}
	usesThreads := map[string]bool{"diarize": true, "transcribe": true, "bench": true, "serve": true}
	paths := commandPaths()
	if len(paths) < 17 {
		t.Fatalf("found only %d commands", len(paths))
	}
	for _, p := range paths {
		name := strings.Join(p, " ")
		out, err := run(t, append(append([]string(nil), p...), "--help")...)
		if err != nil {
			t.Fatalf("%q --help: %v", name, err)
		}
		if !strings.Contains(out, "\nExamples:\n  ") {
			t.Errorf("%q --help has no Examples section:\n%s", name, out)
		}
		if got := strings.Contains(out, "--models "); got != usesModels[name] {
			t.Errorf("%q --help shows --models: %v, want %v", name, got, usesModels[name])
		}
		if got := strings.Contains(out, "--threads "); got != usesThreads[name] {
			t.Errorf("%q --help shows --threads: %v, want %v", name, got, usesThreads[name])
		}
		// Defaults read as a user types them, and point inside nothing but
		// the user's own folders.
		for _, bad := range []string{"float64Slice", "1.000000", "../shared"} {
			if strings.Contains(out, bad) {
				t.Errorf("%q --help shows %q", name, bad)
			}
		}
	}
}
