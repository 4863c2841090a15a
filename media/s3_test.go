package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeContract exercises behaviour every Store must share.
func storeContract(t *testing.T, s Store) {
	ctx := context.Background()
	if n, err := s.Put(ctx, team, "x/y.wav", strings.NewReader("payload"), 100); err != nil || n != 7 {
		t.Fatalf("Put: n=%d err=%v", n, err)
	}
	rc, size, err := s.Open(ctx, team, "x/y.wav")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "payload" || size != 7 {
		t.Fatalf("Open: %q size %d", b, size)
	}
	if _, err := s.Put(ctx, team, "big", strings.NewReader(strings.Repeat("z", 101)), 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize Put: %v", err)
	}
	if _, _, err := s.Open(ctx, team, "big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oversize object stored: %v", err)
	}
	if _, _, err := s.Open(ctx, "team-2", "x/y.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other team sees object: %v", err)
	}
	if _, err := s.Put(ctx, team, "../z", strings.NewReader("x"), 0); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("traversal: %v", err)
	}
	if n, err := s.DeleteOlderThan(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteOlderThan(past): n=%d err=%v", n, err)
	}
	if _, err := s.Put(ctx, team, "other", strings.NewReader("o"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, team, "other"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, team, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete missing: %v", err)
	}
	if n, err := s.DeleteOlderThan(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteOlderThan(future): n=%d err=%v", n, err)
	}
	if _, _, err := s.Open(ctx, team, "x/y.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("swept object still there: %v", err)
	}
}

func TestDirContract(t *testing.T) { storeContract(t, newDir(t)) }

// minioBinary finds the MinIO server: $WHOSPOKE_MINIO, else the pinned one
// scripts/setup.sh builds into $XDG_DATA_HOME/whospoke/bin, else `minio` on
// PATH. Outside CI a missing binary skips; in CI it fails.
func minioBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WHOSPOKE_MINIO"); p != "" {
		return p
	}
	data := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(data) {
		home, _ := os.UserHomeDir()
		data = filepath.Join(home, ".local", "share")
	}
	p := filepath.Join(data, "whospoke", "bin", "minio")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no MinIO server at %s or on PATH (make setup builds it)", p)
	}
	t.Skipf("skipping S3 test: no MinIO server at %s or on PATH; run make setup", p)
	return ""
}

// TestS3Contract runs against a real MinIO server (see minioBinary); there
// is no fake S3.
func TestS3Contract(t *testing.T) {
	bin := minioBinary(t)
	t.Logf("MinIO server: %s", bin)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "--quiet", "--address", addr, t.TempDir())
	cmd.Env = append(cmd.Environ(), "MINIO_ROOT_USER=whospoke", "MINIO_ROOT_PASSWORD=whospoke-secret")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	// /minio/health/live answers 200 before the object layer and IAM are
	// up (requests then fail "Server not initialized yet"); /cluster waits
	// for them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio did not become ready at %s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cfg, err := ParseS3(fmt.Sprintf("s3://whospoke:whospoke-secret@%s/media-test?ssl=false", addr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, s)
}
