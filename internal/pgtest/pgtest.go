// Package pgtest runs throwaway PostgreSQL servers for tests, so that code
// written for PostgreSQL is tested against the real thing.
//
// Start initialises a cluster in the test's temporary directory with the
// installed PostgreSQL binaries and stops it at cleanup. Tests are skipped
// when no binaries are found. Environment variables:
//
//	PGTEST_DSN  use this existing server instead (a fresh database is created on it per Start)
//	PGTEST_BIN  directory holding initdb and postgres
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Start returns the DSN (postgres://…) of a fresh, empty database on a
// PostgreSQL server of tb's own, which is stopped and deleted at cleanup.
// It skips tb when PostgreSQL is not installed.
func Start(tb testing.TB) string {
	tb.Helper()
	if dsn := os.Getenv("PGTEST_DSN"); dsn != "" {
		return CreateDatabase(tb, dsn)
	}
	bin, err := binDir()
	if err != nil {
		tb.Skipf("pgtest: PostgreSQL not installed, skipping (%v; set PGTEST_BIN or PGTEST_DSN)", err)
	}
	acct, err := unprivileged()
	if err != nil {
		tb.Skipf("pgtest: running as root and no unprivileged user to run postgres as: %v", err)
	}

	base := tb.TempDir()
	if acct != nil {
		// The unprivileged user must reach the directory that t.TempDir
		// created 0700 for root, and its per-test parent.
		for _, d := range []string{base, filepath.Dir(base)} {
			if err := os.Chmod(d, 0o755); err != nil {
				tb.Fatalf("pgtest: %v", err)
			}
		}
	}
	// A short name keeps the socket path under the 107-byte limit.
	run := filepath.Join(base, "pg")
	data := filepath.Join(run, "data")
	if err := os.Mkdir(run, 0o700); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if err := chown(run, acct); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Env = env()
	asUser(initdb, acct)
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}

	// The port is free when chosen but could be taken before postgres
	// binds it; then try another.
	var srv *server
	for try := 0; ; try++ {
		srv, err = startServer(bin, run, data, acct)
		if err == nil {
			break
		}
		if try == 2 || !errors.Is(err, errAddrInUse) {
			tb.Fatalf("pgtest: %v", err)
		}
	}
	tb.Cleanup(func() {
		if err := srv.stop(); err != nil {
			tb.Logf("pgtest: stopping postgres: %v", err)
		}
	})
	return CreateDatabase(tb, srv.dsn("postgres"))
}

// CreateDatabase creates another empty database on the server of dsn and
// returns its DSN; the database is dropped at cleanup.
func CreateDatabase(tb testing.TB, dsn string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("pgtest: bad DSN: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)

	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("pgx", admin.String())
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", admin.String())
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE (PostgreSQL 13+) ends sessions that tests left open.
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// binDir finds the directory of initdb and postgres: PGTEST_BIN, the newest
// Debian-style /usr/lib/postgresql/N/bin, or the PATH.
func binDir() (string, error) {
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		return d, hasBinaries(d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs2, _ := filepath.Glob("/usr/pgsql-*/bin") // RPM layout
	dirs = append(dirs, dirs2...)
	version := func(d string) float64 {
		v := strings.TrimPrefix(filepath.Base(filepath.Dir(d)), "pgsql-")
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	sort.SliceStable(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if hasBinaries(d) == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); hasBinaries(d) == nil {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres in /usr/lib/postgresql/*/bin or PATH")
}

func hasBinaries(dir string) error {
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return err
		}
	}
	return nil
}

// env is the environment for the PostgreSQL programs: no PG* variables of
// the caller's, and a locale that always exists.
func env() []string {
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			e = append(e, kv)
		}
	}
	return append(e, "LC_ALL=C")
}

var errAddrInUse = errors.New("address in use")

type server struct {
	cmd  *exec.Cmd
	port int
	done chan error // receives the result of cmd.Wait
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func startServer(bin, run, data string, acct *account) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	logPath := filepath.Join(run, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	sock := run
	if len(sock)+len("/.s.PGSQL.65535") > 100 {
		sock = "" // TCP only
	}
	// Durability is pointless for a throwaway server and slows tests down.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+sock,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=100", "-c", "shared_buffers=16MB")
	cmd.Env = env()
	cmd.Stdout, cmd.Stderr = logf, logf
	asUser(cmd, acct)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &server{cmd: cmd, port: port, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	db, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		s.stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "ddress already in use") {
				return nil, errAddrInUse
			}
			return nil, fmt.Errorf("postgres exited: %v\n%s", werr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres not ready after 60s: %v\n%s", err, log)
		}
	}
}

// stop asks for a fast shutdown (SIGINT), killing postgres if it lingers.
func (s *server) stop() error {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
		return nil
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return errors.New("killed after 15s")
	}
}
