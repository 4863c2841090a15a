// Package testenv finds the shared test data for the packages' tests: the
// dev set beside the repository (or $WHOSPOKE_DEV_SET).
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// DevSet returns the absolute path of the dev set, skipping the test when
// it, or any of the files need names inside it, is missing. Tests run in
// their package folder, one level below the repository root.
func DevSet(tb testing.TB, need ...string) string {
	tb.Helper()
	dir := os.Getenv("WHOSPOKE_DEV_SET")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "eval", "dev")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range append([]string{""}, need...) {
		if _, err := os.Stat(filepath.Join(abs, p)); err != nil {
			tb.Skipf("dev set not found at %s (set WHOSPOKE_DEV_SET): %v", abs, err)
		}
	}
	return abs
}
