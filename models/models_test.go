package models

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sharedModels is the project's shared models folder, or the test is skipped.
func sharedModels(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WHOSPOKE_SHARED_MODELS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "models")
	}
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Skipf("shared models folder not found (%v); set WHOSPOKE_SHARED_MODELS", err)
	}
	return dir
}

// quick is the subset the install tests use: small, and one shared licence.
var quick = []string{"silero-vad", "segmentation"}

func TestManifestMatchesShared(t *testing.T) {
	src := sharedModels(t)
	f, err := os.Open(filepath.Join(src, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 {
			sums[fields[1]] = fields[0]
		}
	}
	inManifest := map[string]bool{}
	for _, m := range manifest {
		hasLicence, hasMain := false, false
		for _, file := range m.Files {
			inManifest[file.Path] = true
			if sums[file.Path] != file.SHA256 {
				t.Errorf("%s: manifest sha256 %s, SHA256SUMS %s", file.Path, file.SHA256, sums[file.Path])
			}
			if fi, err := os.Stat(localPath(src, file)); err != nil || fi.Size() != file.Size {
				t.Errorf("%s: manifest size %d, shared file %v %v", file.Path, file.Size, fi, err)
			}
			hasLicence = hasLicence || file.Path == m.Licence
			hasMain = hasMain || file.Path == m.Main || strings.HasPrefix(file.Path, m.Main+"/")
		}
		if !hasLicence || !hasMain {
			t.Errorf("%s: licence %q or main %q not among its files", m.Name, m.Licence, m.Main)
		}
	}
	for p := range sums {
		if !inManifest[p] {
			t.Errorf("%s is in SHA256SUMS but not in the manifest", p)
		}
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	src, dst := sharedModels(t), t.TempDir()
	var log bytes.Buffer
	if err := Install(context.Background(), src, dst, quick, &log); err != nil {
		t.Fatal(err)
	}
	files, _ := selectFiles(quick)
	if len(files) != 4 {
		t.Fatalf("want 2 files for each of %v, got %v", quick, files)
	}
	before := map[string]os.FileInfo{}
	for _, f := range files {
		if st, err := check(localPath(dst, f), f, rehash); err != nil || st != Verified {
			t.Fatalf("%s: %v %v after install", f.Path, st, err)
		}
		before[f.Path], _ = os.Stat(localPath(dst, f))
	}
	if _, err := os.Stat(filepath.Join(dst, "whisper-base")); !os.IsNotExist(err) {
		t.Errorf("installed a model that was not asked for: %v", err)
	}

	log.Reset()
	if err := Install(context.Background(), src, dst, quick, &log); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "present   "); n != 4 || !strings.Contains(log.String(), "0 installed, 4 already present") {
		t.Errorf("re-run should skip all 4 files, log:\n%s", log.String())
	}
	for _, f := range files {
		after, _ := os.Stat(localPath(dst, f))
		if !os.SameFile(before[f.Path], after) || !after.ModTime().Equal(before[f.Path].ModTime()) {
			t.Errorf("%s was rewritten on re-run", f.Path)
		}
	}
}

// flipByte changes one byte in place, keeping the size.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStampAndRepair(t *testing.T) {
	src, dst := sharedModels(t), t.TempDir()
	ctx := context.Background()
	if err := Install(ctx, src, dst, []string{"silero-vad"}, nil); err != nil {
		t.Fatal(err)
	}
	vad := filepath.Join(dst, "silero-vad-v6.2", "silero_vad.onnx")
	m, _ := lookup("silero-vad")
	vadFile := m.Files[0]
	fi, _ := os.Stat(vad)

	// Damage that keeps size and mtime is invisible to the stamp (that is
	// what makes re-runs fast) but not to a verifying List.
	flipByte(t, vad)
	if err := os.Chtimes(vad, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if st, _ := check(vad, vadFile, trustStamp); st != Verified {
		t.Fatalf("stamp not trusted: %v", st)
	}
	status, err := List(dst, true)
	if err != nil {
		t.Fatal(err)
	}
	if st := find(t, status, "silero-vad").State(); st != Corrupt {
		t.Fatalf("verify: silero-vad is %v, want corrupt", st)
	}
	// The verify voided the stamp, so install now repairs the file.
	if err := Install(ctx, src, dst, []string{"silero-vad"}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := check(vad, vadFile, rehash); st != Verified {
		t.Fatalf("after repair: %v", st)
	}

	// An ordinary edit changes the mtime and is caught without --verify.
	flipByte(t, vad)
	os.Chtimes(vad, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	var log bytes.Buffer
	if err := Install(ctx, src, dst, []string{"silero-vad"}, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "copying   silero-vad-v6.2/silero_vad.onnx") {
		t.Errorf("edited file not re-copied:\n%s", log.String())
	}
	if st, _ := check(vad, vadFile, rehash); st != Verified {
		t.Fatalf("after re-copy: %v", st)
	}
}

// copyModel copies a model's files from src into a new folder.
func copyModel(t *testing.T, src, name string) string {
	t.Helper()
	m, err := lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range m.Files {
		b, err := os.ReadFile(localPath(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(localPath(dir, f)), 0o755)
		if err := os.WriteFile(localPath(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInstallRefusesCorruptSource(t *testing.T) {
	src := copyModel(t, sharedModels(t), "silero-vad")
	flipByte(t, filepath.Join(src, "silero-vad-v6.2", "silero_vad.onnx"))
	dst := t.TempDir()
	// A damaged earlier copy must go too, not stay behind for the pipeline.
	os.MkdirAll(filepath.Join(dst, "silero-vad-v6.2"), 0o755)
	os.WriteFile(filepath.Join(dst, "silero-vad-v6.2", "silero_vad.onnx"), []byte("truncated"), 0o644)

	err := Install(context.Background(), src, dst, []string{"silero-vad"}, nil)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "silero_vad.onnx") {
		t.Fatalf("want a sha256 mismatch naming the file, got %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dst, "silero-vad-v6.2"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ".LICENSE.sha256 LICENSE" {
		t.Errorf("want only the licence (and its stamp) left, got %q", names)
	}
}

func TestInstallErrors(t *testing.T) {
	shared := sharedModels(t)
	ctx := context.Background()
	if err := Install(ctx, shared, t.TempDir(), []string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), "silero-vad") {
		t.Errorf("unknown model: want an error listing the known ones, got %v", err)
	}
	if err := Install(ctx, filepath.Join(t.TempDir(), "absent"), t.TempDir(), quick, nil); err == nil {
		t.Error("missing source folder: want error")
	}
	// A source lacking one file installs the rest and names the missing one.
	src := copyModel(t, shared, "silero-vad")
	os.Remove(filepath.Join(src, "silero-vad-v6.2", "LICENSE"))
	dst := t.TempDir()
	err := Install(ctx, src, dst, []string{"silero-vad"}, nil)
	if err == nil || !strings.Contains(err.Error(), "silero-vad-v6.2/LICENSE") {
		t.Errorf("want error naming the missing licence, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "silero-vad-v6.2", "silero_vad.onnx")); err != nil {
		t.Errorf("the good file should still be installed: %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	dst = t.TempDir()
	if err := Install(cancelled, shared, dst, quick, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("cancelled install left %v", entries)
	}
}

func TestPathDirList(t *testing.T) {
	src, dst := sharedModels(t), t.TempDir()
	if _, err := Path(dst, "segmentation"); err == nil || !strings.Contains(err.Error(), "whospoke models install segmentation") {
		t.Fatalf("missing model: want install hint, got %v", err)
	}
	if _, err := Path(dst, "nope"); err == nil {
		t.Fatal("unknown model: want error")
	}
	if err := Install(context.Background(), src, dst, quick, nil); err != nil {
		t.Fatal(err)
	}
	p, err := Path(dst, "segmentation")
	if want := filepath.Join(dst, "pyannote-segmentation-3.0", "model.onnx"); err != nil || p != want || !filepath.IsAbs(p) {
		t.Errorf("Path = %q, %v; want %q", p, err, want)
	}
	if _, err := Path(dst, "segmentation-int8"); err == nil {
		t.Error("segmentation-int8 shares a licence but its model file is missing: want error")
	}

	status, err := List(dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(manifest) {
		t.Fatalf("List gave %d models, want %d", len(status), len(manifest))
	}
	for name, want := range map[string]State{"segmentation": Present, "silero-vad": Present, "segmentation-int8": Missing, "whisper-base": Missing, "test-audio": Missing} {
		if got := find(t, status, name).State(); got != want {
			t.Errorf("List: %s is %v, want %v", name, got, want)
		}
	}
	if !find(t, status, "test-audio").Model.Fixture {
		t.Error("test-audio should be marked as a fixture")
	}
	os.Truncate(filepath.Join(dst, "pyannote-segmentation-3.0", "LICENSE"), 10)
	status, _ = List(dst, true)
	if got := find(t, status, "segmentation").State(); got != WrongSize {
		t.Errorf("truncated licence: segmentation is %v", got)
	}
	if got := find(t, status, "silero-vad").State(); got != Verified {
		t.Errorf("verify: silero-vad is %v", got)
	}
}

func find(t *testing.T, status []Status, name string) Status {
	t.Helper()
	for _, s := range status {
		if s.Model.Name == name {
			return s
		}
	}
	t.Fatalf("%s not listed", name)
	return Status{}
}

func TestDir(t *testing.T) {
	t.Setenv("WHOSPOKE_MODELS", "/m")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if got := Dir(); got != "/m" {
		t.Errorf("WHOSPOKE_MODELS: %s", got)
	}
	t.Setenv("WHOSPOKE_MODELS", "")
	if got := Dir(); got != "/xdg/whospoke/models" {
		t.Errorf("XDG_DATA_HOME: %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	if got := Dir(); got != "/home/u/.local/share/whospoke/models" {
		t.Errorf("HOME: %s", got)
	}
	if ResolveDir("/flag") != "/flag" || ResolveDir("") != Dir() {
		t.Error("ResolveDir: the flag should win, else Dir")
	}
}

func TestPull(t *testing.T) {
	shared := sharedModels(t)
	good := copyModel(t, shared, "silero-vad")
	srv := httptest.NewServer(http.FileServer(http.Dir(good)))
	defer srv.Close()
	dst := t.TempDir()
	ctx := context.Background()
	if err := Pull(ctx, srv.URL+"/", dst, []string{"silero-vad"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := Path(dst, "silero-vad"); err != nil {
		t.Fatal(err)
	}
	status, _ := List(dst, true)
	if st := find(t, status, "silero-vad").State(); st != Verified {
		t.Errorf("pulled silero-vad is %v", st)
	}

	tampered := copyModel(t, shared, "silero-vad")
	flipByte(t, filepath.Join(tampered, "silero-vad-v6.2", "silero_vad.onnx"))
	bad := httptest.NewServer(http.FileServer(http.Dir(tampered)))
	defer bad.Close()
	dst = t.TempDir()
	if err := Pull(ctx, bad.URL, dst, []string{"silero-vad"}, nil); !errors.Is(err, ErrChecksum) {
		t.Errorf("tampered download: want ErrChecksum, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "silero-vad-v6.2", "silero_vad.onnx")); !os.IsNotExist(err) {
		t.Errorf("tampered file left installed: %v", err)
	}

	if err := Pull(ctx, srv.URL, t.TempDir(), []string{"segmentation"}, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("file absent on the server: want a 404 error, got %v", err)
	}
	if err := Pull(ctx, "ftp://example.invalid", t.TempDir(), nil, nil); err == nil {
		t.Error("non-http URL: want error")
	}
}
