package media

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/internal/miniotest"
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
	if _, err := s.Put(ctx, "team-2", "q.wav", strings.NewReader("elsewhere"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Usage(ctx, team); err != nil || n != 8 { // "payload" + "o"
		t.Fatalf("Usage: %d %v, want 8", n, err)
	}
	if n, err := s.Usage(ctx, "team-3"); err != nil || n != 0 {
		t.Fatalf("Usage of a team with no media: %d %v", n, err)
	}
	if err := s.Delete(ctx, team, "other"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, team, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete missing: %v", err)
	}
	if n, err := s.DeleteOlderThan(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("DeleteOlderThan(future): n=%d err=%v", n, err)
	}
	if _, _, err := s.Open(ctx, team, "x/y.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("swept object still there: %v", err)
	}
}

func TestDirContract(t *testing.T) { storeContract(t, newDir(t)) }

// TestS3Contract runs against a real MinIO server (see internal/miniotest);
// there is no fake S3.
func TestS3Contract(t *testing.T) {
	cfg, err := ParseS3(miniotest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, s)
}
