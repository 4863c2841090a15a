package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vadFiles are the silero-vad model's files: small, so the pull tests copy
// and serve them quickly.
var vadFiles = []string{"silero-vad-v6.2/silero_vad.onnx", "silero-vad-v6.2/LICENSE"}

// vadSource copies silero-vad from the installed (or shared) models into a
// new folder with the models folder's layout.
func vadSource(t *testing.T) string {
	t.Helper()
	mdir, _ := shared(t)
	src := t.TempDir()
	for _, f := range vadFiles {
		b, err := os.ReadFile(filepath.Join(mdir, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func TestModelsSaysWhatItNeeds(t *testing.T) {
	dst := t.TempDir()
	out, err := run(t, "models", "--models", dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"models folder: " + dst,
		"silero-vad (missing): Silero VAD v6.2",
		"1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3  silero-vad-v6.2/silero_vad.onnx  (2.3 MB, missing)",
		"licence: Apache-2.0, 3dspeaker-campplus-zh-en/LICENSE",
		"whisper-tiny.en/encoder.dyn.int8.onnx",
		"whospoke models pull --from DIR|URL",
		"WHOSPOKE_MODELS=DIR",
		"docs/MODELS.md",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("`whospoke models` lacks %q", want)
		}
	}
}

func TestModelsPull(t *testing.T) {
	src := vadSource(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()

	// From an http(s) base URL, and from a folder.
	for _, from := range []string{srv.URL + "/", src} {
		dst := t.TempDir()
		out, err := run(t, "models", "pull", "--from", from, "silero-vad", "--models", dst)
		if err != nil || !strings.Contains(out, "2 installed, 0 already present, 0 failed") {
			t.Fatalf("pull --from %s: %v\n%s", from, err, out)
		}
		out, err = run(t, "models", "list", "--verify", "--models", dst)
		if err != nil || !strings.Contains(out, "silero-vad         verified") {
			t.Errorf("after pull --from %s: %v\n%s", from, err, out)
		}
	}

	// A corrupted file (same size, one byte changed) is refused and not left
	// installed.
	onnx := filepath.Join(src, vadFiles[0])
	b, _ := os.ReadFile(onnx)
	b[len(b)/2] ^= 0xff
	os.WriteFile(onnx, b, 0o644)
	dst := t.TempDir()
	_, err := run(t, "models", "pull", "--from", srv.URL, "silero-vad", "--models", dst)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), "silero_vad.onnx") {
		t.Errorf("corrupted download: want a sha256 mismatch naming the file, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, vadFiles[0])); !os.IsNotExist(err) {
		t.Errorf("corrupted file left installed: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"silero-vad"}, "no source"},
		{[]string{"--from", srv.URL, "nope"}, `unknown model "nope"`},
		{[]string{"--from", filepath.Join(src, "absent")}, "is not a folder"},
		{[]string{"--from", "ftp://example.invalid/models"}, "is not a folder"},
	} {
		args := append([]string{"models", "pull"}, c.args...)
		if _, err := run(t, append(args, "--models", t.TempDir())...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
