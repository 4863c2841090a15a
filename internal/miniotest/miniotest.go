// Package miniotest runs throwaway MinIO servers for tests, so that code
// written for S3 is tested against a real S3 server rather than a fake.
//
// Start runs a MinIO server on a free loopback port with its data in the
// test's temporary directory, waits until it serves requests, and stops it
// at cleanup. The server binary is found by Binary: $WHOSPOKE_MINIO, else
// the pinned build that `make setup-test` (scripts/setup-test.sh) puts in
// $XDG_DATA_HOME/whospoke/bin (~/.local/share/whospoke/bin), else `minio` on
// the PATH. A missing binary skips the test, or fails it when $CI is set.
package miniotest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The root credentials of every server Start runs.
const (
	AccessKey = "whospoke"
	SecretKey = "whospoke-secret"
)

// Start returns the URL s3://ACCESS:SECRET@127.0.0.1:PORT/BUCKET?ssl=false
// of a MinIO server of tb's own, which is stopped at cleanup. BUCKET is a
// fresh random name that does not exist yet (media.NewS3 creates it). It
// skips tb when no MinIO binary is found (fails it in CI).
func Start(tb testing.TB) string {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	// The port is free when chosen but could be taken before minio binds
	// it; then try another.
	var srv *server
	var err error
	for try := 0; ; try++ {
		srv, err = startServer(bin, filepath.Join(dir, fmt.Sprintf("try%d", try)))
		if err == nil {
			break
		}
		if try == 2 || !errors.Is(err, errAddrInUse) {
			tb.Fatalf("miniotest: %v", err)
		}
	}
	tb.Cleanup(func() {
		if err := srv.stop(); err != nil {
			tb.Logf("miniotest: stopping minio: %v", err)
		}
	})
	return fmt.Sprintf("s3://%s:%s@%s/%s?ssl=false", AccessKey, SecretKey, srv.addr, bucketName())
}

// Binary returns the path of the MinIO server binary: $WHOSPOKE_MINIO, else
// the pinned one scripts/setup-test.sh builds into $XDG_DATA_HOME/whospoke/bin,
// else `minio` on PATH. Outside CI a missing binary skips tb; in CI it fails.
func Binary(tb testing.TB) string {
	tb.Helper()
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
		tb.Fatalf("miniotest: no MinIO server at %s or on PATH (make setup-test builds it)", p)
	}
	tb.Skipf("miniotest: no MinIO server at %s or on PATH, skipping; run make setup-test", p)
	return ""
}

// bucketName is a fresh valid S3 bucket name (lower case, 3–63 characters).
func bucketName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

var errAddrInUse = errors.New("address in use")

type server struct {
	cmd  *exec.Cmd
	addr string     // host:port of the S3 API
	done chan error // receives the result of cmd.Wait
}

func startServer(bin, run string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()

	data := filepath.Join(run, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(run, "minio.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, data)
	// No console (it would listen on another, dynamic port) and no update
	// checks.
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setPdeathsig(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio %s: %w", bin, err)
	}
	s := &server{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	// /minio/health/live answers 200 before the object layer and IAM are
	// up (requests then fail "Server not initialized yet"); /cluster waits
	// for them.
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
			err = fmt.Errorf("health: %s", resp.Status)
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "already in use") {
				return nil, errAddrInUse
			}
			return nil, fmt.Errorf("minio exited: %v\n%s", werr, log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("minio not ready at %s after 60s: %v\n%s", addr, err, log)
		}
	}
}

// stop asks minio to shut down (SIGTERM), killing it if it lingers.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill() // no SIGTERM on this system, or already gone
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("killed after 15s")
	}
}
