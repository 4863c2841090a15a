// Package testenv finds the shared test data for the packages' tests: the
// dev set beside the repository (or $WHOSPOKE_DEV_SET) and the models.
package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/models"
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

// ModelsDir is the installed models folder when it holds the model named
// need (a models manifest name), else the shared folder beside the
// repository, which has the same layout.
func ModelsDir(need string) string {
	dir := models.ResolveDir("")
	if _, err := models.Path(dir, need); err != nil {
		return filepath.Join("..", "..", "shared", "models")
	}
	return dir
}
