package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

var bin string // the whospoke binary built for these tests

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "whospoke-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "whospoke")
	build := exec.Command("go", "build", "-o", bin, "../cmd/whospoke")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// python is the interpreter of the venv `make setup-test` fills with the vendors'
// clients and schemathesis. Outside CI a missing venv skips; in CI it fails.
func python(t *testing.T, module string) string {
	t.Helper()
	p := os.Getenv("WHOSPOKE_PYTHON")
	if p == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		p = filepath.Join(cache, "whospoke", "venv", "bin", "python")
	}
	if err := exec.Command(p, "-c", "import "+module).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python %s with %s missing (make setup-test installs it): %v", p, module, err)
		}
		t.Skipf("python %s with %s missing; run make setup-test", p, module)
	}
	return p
}

func sampleWAV(t testing.TB) string {
	out, err := exec.Command(bin, "models", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("models list: %v %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "test-audio" && f[1] == "installed" {
			return filepath.Join(f[2], "sample.wav")
		}
	}
	t.Fatalf("test-audio not installed (make setup):\n%s", out)
	return ""
}

// node is one running `whospoke serve` process.
type node struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
	logs *strings.Builder
	mu   *sync.Mutex
}

// serve starts `whospoke serve` with args on a free loopback port and waits
// until it is ready.
func serve(t testing.TB, env []string, args ...string) *node {
	t.Helper()
	threads := "2"
	if runtime.NumCPU() < 2 {
		threads = "1"
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--threads", threads}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	n := &node{cmd: cmd, done: make(chan error, 1), logs: &strings.Builder{}, mu: &sync.Mutex{}}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b, _ := io.ReadAll(stderr)
		n.mu.Lock()
		n.logs.Write(b)
		n.mu.Unlock()
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				urlc <- u
			}
		}
	}()
	go func() { n.done <- cmd.Wait() }()
	t.Cleanup(func() { n.stop(t) })
	select {
	case n.URL = <-urlc:
	case err := <-n.done:
		t.Fatalf("serve exited: %v\n%s", err, n.Logs())
	case <-time.After(90 * time.Second):
		t.Fatalf("serve did not start\n%s", n.Logs())
	}
	return n
}

func (n *node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// stop ends the process gracefully (SIGTERM), if it still runs.
func (n *node) stop(t testing.TB) {
	if n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(60 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
		t.Errorf("serve did not stop on SIGTERM")
	}
}

// kill ends the process at once, as a crash would.
func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// createKey runs `whospoke keys create` and returns the key (its last line).
func createKey(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"keys", "create", "--team", "acme", "--name", "e2e"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func run(ctx context.Context, t *testing.T, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// natsServer starts an in-process NATS server with JetStream on a free
// loopback port, shut down at cleanup, and returns its client URL.
func natsServer(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return ns.ClientURL()
}
