package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const team = "team-1"

func newDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestValidKey(t *testing.T) {
	good := []string{"a", "meeting.wav", "folder/sub/file-1_2.WAV", "..hidden", "a..b", ".x", strings.Repeat("k", 255)}
	bad := []string{"", "../etc/passwd", "a/../../b", "..", "a/..", "./a", "a/./b", "/abs", "a/", "a//b",
		"sp ace", "a\\b", "ü", "a?b", "a%2e", strings.Repeat("k", 256)}
	for _, k := range good {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range bad {
		if err := ValidKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidKey(%q) accepted", k)
		}
	}
	for _, tm := range []string{"", "..", "a/b", "a.b", strings.Repeat("t", 129)} {
		if err := ValidTeam(tm); err == nil {
			t.Errorf("ValidTeam(%q) accepted", tm)
		}
	}
}

func TestDirPutOpenDelete(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	n, err := d.Put(ctx, team, "calls/a.wav", strings.NewReader("hello"), 10)
	if err != nil || n != 5 {
		t.Fatalf("Put: n=%d err=%v", n, err)
	}
	// Overwrite replaces atomically.
	if _, err := d.Put(ctx, team, "calls/a.wav", strings.NewReader("hello, world"), 0); err != nil {
		t.Fatal(err)
	}
	rc, size, err := d.Open(ctx, team, "calls/a.wav")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello, world" || size != 12 {
		t.Fatalf("Open: %q size %d", b, size)
	}
	// Teams are separate namespaces.
	if _, _, err := d.Open(ctx, "team-2", "calls/a.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other team: %v", err)
	}
	// A key that is only a prefix directory is not an object.
	if _, _, err := d.Open(ctx, team, "calls"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("directory as key: %v", err)
	}
	if _, _, err := d.Open(ctx, team, "calls/a.wav/x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("file as directory: %v", err)
	}
	if err := d.Delete(ctx, team, "calls/a.wav"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, team, "calls/a.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, _, err := d.Open(ctx, team, "calls/a.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.root, team)); !os.IsNotExist(err) {
		t.Fatalf("empty directories left behind: %v", err)
	}
	// Traversal never reaches the filesystem.
	if _, err := d.Put(ctx, team, "../escape", strings.NewReader("x"), 0); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("traversal Put: %v", err)
	}
	if _, err := d.Put(ctx, "..", "escape", strings.NewReader("x"), 0); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("traversal team: %v", err)
	}
}

func TestDirPutTooLargeAndFailures(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	if _, err := d.Put(ctx, team, "big", strings.NewReader("12345678901"), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if n, err := d.Put(ctx, team, "exact", strings.NewReader("1234567890"), 10); err != nil || n != 10 {
		t.Fatalf("exact limit: n=%d err=%v", n, err)
	}
	if _, err := d.Put(ctx, team, "broken", iotest.ErrReader(io.ErrUnexpectedEOF), 10); err == nil {
		t.Fatal("reader error ignored")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Put(canceled, team, "c", strings.NewReader("x"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	for _, k := range []string{"big", "broken", "c"} {
		if _, _, err := d.Open(ctx, team, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed Put left %q behind: %v", k, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(d.root, tmpDir)); len(tmp) != 0 {
		t.Fatalf("temp files left: %d", len(tmp))
	}
}

func TestDirRetention(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	for _, k := range []string{"old1", "sub/old2", "new"} {
		if _, err := d.Put(ctx, team, k, strings.NewReader(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-49 * time.Hour)
	for _, k := range []string{"old1", "sub/old2"} {
		if err := os.Chtimes(d.path(team, k), past, past); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.DeleteOlderThan(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteOlderThan: n=%d err=%v", n, err)
	}
	if _, _, err := d.Open(ctx, team, "old1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("old1 survived")
	}
	rc, _, err := d.Open(ctx, team, "new")
	if err != nil {
		t.Fatalf("new was removed: %v", err)
	}
	rc.Close()
	if _, err := os.Stat(filepath.Join(d.root, team, "sub")); !os.IsNotExist(err) {
		t.Fatal("emptied directory left behind")
	}
	if _, err := os.Stat(filepath.Join(d.root, tmpDir)); err != nil {
		t.Fatal("temp directory removed")
	}
}

func TestSigner(t *testing.T) {
	s := Signer{Secret: []byte("k"), BaseURL: "https://ws.example.com/"}
	now := time.Unix(1_700_000_000, 0)
	u := s.Sign("PUT", team, "a/b.wav", now.Add(time.Hour))
	if !strings.HasPrefix(u, "https://ws.example.com/media/team-1/a/b.wav?expires=1700003600&sig=") {
		t.Fatalf("Sign = %s", u)
	}
	sig := u[strings.Index(u, "sig=")+4:]
	if err := s.Verify("PUT", team, "a/b.wav", "1700003600", sig, now); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if err := s.Verify("PUT", team, "a/b.wav", "1700003600", sig, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	for name, err := range map[string]error{
		"method":  s.Verify("GET", team, "a/b.wav", "1700003600", sig, now),
		"team":    s.Verify("PUT", "team-2", "a/b.wav", "1700003600", sig, now),
		"key":     s.Verify("PUT", team, "a/c.wav", "1700003600", sig, now),
		"expires": s.Verify("PUT", team, "a/b.wav", "1800000000", sig, now),
		"sig":     s.Verify("PUT", team, "a/b.wav", "1700003600", "00"+sig[2:], now),
		"nothex":  s.Verify("PUT", team, "a/b.wav", "1700003600", "xyz", now),
		"secret":  Signer{Secret: []byte("other")}.Verify("PUT", team, "a/b.wav", "1700003600", sig, now),
		"nokey":   Signer{}.Verify("PUT", team, "a/b.wav", "1700003600", sig, now),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered %s: got %v", name, err)
		}
	}
}

// testServer serves Handler at a real listener; signer.BaseURL is its URL.
func testServer(t *testing.T, max int64) (*httptest.Server, Signer, *Dir) {
	return testServerQuota(t, max, 0)
}

func testServerQuota(t *testing.T, max, quota int64) (*httptest.Server, Signer, *Dir) {
	t.Helper()
	d := newDir(t)
	signer := Signer{Secret: []byte("media-secret")}
	srv := httptest.NewServer(Handler(d, signer, max, quota))
	t.Cleanup(srv.Close)
	signer.BaseURL = srv.URL
	return srv, signer, d
}

func do(t *testing.T, method, url string, body io.Reader, contentLength int64) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentLength != 0 {
		req.ContentLength = contentLength
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func wantJSONError(t *testing.T, resp *http.Response, b []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (%s)", resp.StatusCode, status, b)
	}
	var e struct{ RequestID, Message string }
	if err := json.Unmarshal(b, &e); err != nil || e.RequestID == "" || e.Message == "" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("bad error body %q (%v)", b, err)
	}
}

func TestHandlerRoundTrip(t *testing.T) {
	_, signer, _ := testServer(t, 1<<20)
	exp := time.Now().Add(time.Hour)
	payload := bytes.Repeat([]byte("audio"), 1000)

	resp, b := do(t, http.MethodPut, signer.Sign("PUT", team, "in/call.wav", exp), bytes.NewReader(payload), 0)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	get := signer.Sign("GET", team, "in/call.wav", exp)
	resp, b = do(t, http.MethodGet, get, nil, 0)
	if resp.StatusCode != 200 || !bytes.Equal(b, payload) || resp.ContentLength != int64(len(payload)) {
		t.Fatalf("GET: %d len %d cl %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("missing nosniff")
	}
	resp, _ = do(t, http.MethodHead, get, nil, 0)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(payload)) {
		t.Fatalf("HEAD: %d cl %d", resp.StatusCode, resp.ContentLength)
	}

	// A GET URL cannot upload.
	resp, b = do(t, http.MethodPut, get, strings.NewReader("evil"), 0)
	wantJSONError(t, resp, b, http.StatusForbidden)

	resp, b = do(t, http.MethodGet, signer.Sign("GET", team, "in/missing.wav", exp), nil, 0)
	wantJSONError(t, resp, b, http.StatusNotFound)
}

func TestHandlerSignatureErrors(t *testing.T) {
	srv, signer, d := testServer(t, 1<<20)
	if _, err := d.Put(context.Background(), team, "a.wav", strings.NewReader("x"), 0); err != nil {
		t.Fatal(err)
	}
	good := signer.Sign("GET", team, "a.wav", time.Now().Add(time.Hour))
	cases := map[string]string{
		"tampered sig":     good[:len(good)-2] + "00",
		"tampered key":     strings.Replace(good, "a.wav", "b.wav", 1),
		"tampered team":    strings.Replace(good, team, "team-2", 1),
		"tampered expires": strings.Replace(good, "expires=", "expires=9", 1),
		"unsigned":         srv.URL + "/media/" + team + "/a.wav",
		"expired":          signer.Sign("GET", team, "a.wav", time.Now().Add(-time.Minute)),
		"other secret":     Signer{Secret: []byte("x"), BaseURL: srv.URL}.Sign("GET", team, "a.wav", time.Now().Add(time.Hour)),
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			resp, b := do(t, http.MethodGet, u, nil, 0)
			wantJSONError(t, resp, b, http.StatusForbidden)
			if name == "expired" && !strings.Contains(string(b), "expired") {
				t.Fatalf("expired message: %s", b)
			}
		})
	}
}

func TestHandlerTooLarge(t *testing.T) {
	_, signer, d := testServer(t, 100)
	u := signer.Sign("PUT", team, "big.wav", time.Now().Add(time.Hour))
	// With Content-Length: refused before reading.
	resp, b := do(t, http.MethodPut, u, bytes.NewReader(make([]byte, 101)), 0)
	wantJSONError(t, resp, b, http.StatusRequestEntityTooLarge)
	// Chunked (length unknown): refused while streaming.
	resp, b = do(t, http.MethodPut, u, io.MultiReader(bytes.NewReader(make([]byte, 150))), -1)
	wantJSONError(t, resp, b, http.StatusRequestEntityTooLarge)
	if _, _, err := d.Open(context.Background(), team, "big.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oversize upload stored: %v", err)
	}
	// Exactly at the limit is fine.
	resp, b = do(t, http.MethodPut, u, io.MultiReader(bytes.NewReader(make([]byte, 100))), -1)
	if resp.StatusCode != 200 {
		t.Fatalf("at limit: %d %s", resp.StatusCode, b)
	}
}

func TestParseS3(t *testing.T) {
	c, err := ParseS3("s3://AK:s%2Fecret@minio.local:9000/whospoke?ssl=false&region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	want := S3Config{Endpoint: "minio.local:9000", Bucket: "whospoke", AccessKey: "AK", SecretKey: "s/ecret", UseSSL: false, Region: "eu-west-1"}
	if c != want {
		t.Fatalf("got %+v", c)
	}
	if strings.Contains(c.String(), "ecret") {
		t.Fatalf("String leaks secret: %s", c)
	}
	c, err = ParseS3("s3://AK:SK@s3.amazonaws.com/b")
	if err != nil || !c.UseSSL || c.Region != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []string{
		"http://AK:SK@h/b", "s3://h/b", "s3://AK@h/b", "s3://AK:SK@h", "s3://AK:SK@h/b/c",
		"s3://AK:SK@/b", "s3://AK:SK@h/b?ssl=maybe", "s3://AK:SK@h/b?sll=false",
	} {
		if _, err := ParseS3(bad); err == nil {
			t.Errorf("ParseS3(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "SK") {
			t.Errorf("ParseS3(%q) error leaks secret: %v", bad, err)
		}
	}
}

func TestDirLocalPath(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	if _, err := d.LocalPath(ctx, "team", "absent.wav"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	if _, err := d.Put(ctx, "team", "a/b.wav", strings.NewReader("abc"), 0); err != nil {
		t.Fatal(err)
	}
	p, err := d.LocalPath(ctx, "team", "a/b.wav")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "abc" {
		t.Fatalf("%s: %q %v", p, b, err)
	}
	if _, err := d.LocalPath(ctx, "team", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a folder is not an object: %v", err)
	}
}

// A team's uploads together stay within its quota; replacing an object
// counts its old size as free; other teams have their own.
func TestHandlerQuota(t *testing.T) {
	_, signer, _ := testServerQuota(t, 1000, 1500)
	exp := time.Now().Add(time.Hour)
	put := func(team, key string, n int) int {
		resp, _ := do(t, http.MethodPut, signer.Sign("PUT", team, key, exp), bytes.NewReader(make([]byte, n)), 0)
		return resp.StatusCode
	}
	if c := put(team, "a", 1000); c != 200 {
		t.Fatalf("first upload: %d", c)
	}
	if c := put(team, "b", 600); c != 413 {
		t.Fatalf("upload past the quota: %d", c)
	}
	if c := put(team, "b", 500); c != 200 {
		t.Fatalf("upload up to the quota: %d", c)
	}
	if c := put(team, "a", 1000); c != 200 {
		t.Fatalf("replacing an object: %d", c)
	}
	resp, b := do(t, http.MethodPut, signer.Sign("PUT", team, "c", exp), bytes.NewReader([]byte("x")), 0)
	wantJSONError(t, resp, b, 413)
	if !strings.Contains(string(b), "quota") {
		t.Fatalf("quota message: %s", b)
	}
	if c := put("team-2", "a", 1000); c != 200 {
		t.Fatalf("another team's upload: %d", c)
	}
}
