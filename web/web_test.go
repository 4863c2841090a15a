package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"testing"
)

// built skips on a fresh clone, whose dist holds only .gitkeep until `make
// setup` builds the bundle; in CI setup has run, so it fails there.
func built(t *testing.T) {
	if _, err := fs.Stat(dist, "dist/index.html"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("web/dist not built (make setup builds it)")
		}
		t.Skip("web/dist not built; run make setup")
	}
}

func TestServesPageWithCSP(t *testing.T) {
	built(t)
	for p, ctype := range map[string]string{
		"/":                  "text/html; charset=utf-8",
		"/assets/app.js":     "text/javascript; charset=utf-8",
		"/assets/app.css":    "text/css; charset=utf-8",
		"/assets/worklet.js": "text/javascript; charset=utf-8",
	} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		h := rec.Header()
		if rec.Code != http.StatusOK || h.Get("Content-Type") != ctype || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q", p, rec.Code, h.Get("Content-Type"))
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	for _, p := range []string{"/assets/missing.js", "/assets/../../web.go", "/.gitkeep"} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}

// The budget: the page's JS and CSS at most 200 KB gzipped.
func TestBundleSize(t *testing.T) {
	built(t)
	total := 0
	fs.WalkDir(dist, "dist/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".js" && path.Ext(p) != ".css") {
			return err
		}
		b, _ := fs.ReadFile(dist, p)
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(b)
		w.Close()
		total += z.Len()
		return nil
	})
	t.Logf("bundle: %d bytes gzipped", total)
	if total == 0 || total > 200_000 {
		t.Errorf("bundle %d bytes gzipped; budget 200000", total)
	}
}
