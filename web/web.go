// Package web serves the browser page of `whospoke serve`: the bundle that
// `make setup` builds from web/src into web/dist (npm esbuild), embedded in
// the binary so the page works offline and from one origin.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// dist holds index.html and assets/. A fresh clone has only .gitkeep here
// (the bundle is built, not committed), so `all:` keeps go:embed from
// failing on a folder without visible files.
//
//go:embed all:dist
var dist embed.FS

// csp keeps every request on the server's origin: scripts, styles, the audio
// worklet, fetch and the live WebSocket ('self' covers ws: on the same host).
// blob: is the uploaded file or the recorded live audio, played locally.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"media-src 'self' blob:; img-src 'self' data:; worker-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".map":  "application/json",
}

// Handler serves / (index.html) and /assets/*.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		b, err := fs.ReadFile(dist, "dist/"+name)
		if err != nil || strings.HasPrefix(path.Base(name), ".") {
			if name == "index.html" {
				http.Error(w, "whospoke: the web page is not built into this binary (run `make setup`, then rebuild)", http.StatusNotFound)
				return
			}
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", types[path.Ext(name)])
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/octet-stream")
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Names are not content-hashed: revalidate so a new binary's page is seen.
		h.Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}
