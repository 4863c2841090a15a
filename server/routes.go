package server

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/whospoke/whospoke/media"
	"github.com/whospoke/whospoke/web"
)

// rate classes of docs/API.md §1: job submission and polling.
const (
	classSubmit = "submit"
	classPoll   = "poll"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)

	mux.Handle("GET /v1/test", s.api("", "", s.test))
	mux.Handle("POST /v1/diarize", s.api("jobs:write", classSubmit, s.diarize))
	mux.Handle("POST /v1/voiceprint", s.api("jobs:write", classSubmit, s.voiceprint))
	mux.Handle("POST /v1/identify", s.api("jobs:write", classSubmit, s.identify))
	mux.Handle("GET /v1/jobs/{jobId}", s.api("jobs:read", classPoll, s.getJob))
	mux.Handle("DELETE /v1/jobs/{jobId}", s.api("jobs:write", classSubmit, s.cancelJob))
	mux.Handle("GET /v2/jobs", s.api("jobs:read", classPoll, s.listJobs))
	mux.Handle("POST /v1/media/input", s.api("media:write", classSubmit, s.mediaInput))
	mux.Handle("POST /v1/media/output", s.api("media:read", classSubmit, s.mediaOutput))
	mux.Handle("POST /v1/live", s.api("stream:write", classSubmit, s.createLive))
	mux.Handle("GET /v1/live/{id}", s.api("stream:read", classPoll, s.getLive))
	// The WebSocket's single-use token is its authorisation.
	mux.HandleFunc("GET /v1/live/{id}/ws", s.liveSocket)
	// OpenAI Realtime transcription: the openai SDK opens {base}/realtime
	// with its Bearer key.
	mux.Handle("GET /v1/realtime", s.api("stream:write", classSubmit, s.realtimeSocket))
	// Pre-signed URLs carry their own authorisation (the signature).
	mux.Handle("/media/", media.Handler(s.media, s.signer, s.cfg.MaxFileBytes, s.cfg.MediaQuotaBytes))
	// The browser page (web/), embedded: / and its bundle under /assets/.
	mux.Handle("GET /{$}", web.Handler())
	mux.Handle("GET /assets/", web.Handler())
	// AssemblyAI Universal-Streaming v3: the socket checks its key or token
	// after the upgrade, so that a refusal is one of the vendor's close codes.
	mux.HandleFunc("GET /v3/ws", s.aaiSocket)
	mux.HandleFunc("GET /v3/token", s.aaiToken)
	mux.HandleFunc("/", noRoute(mux))
	return s.middleware(mux)
}

// api wraps an authenticated endpoint: key, permission, then rate limit.
func (s *Server) api(perm, class string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		p := authOf(r)
		if perm != "" && !p.can(perm) {
			writeError(w, r, http.StatusForbidden, fmt.Sprintf("API key lacks the %s permission", perm))
			return
		}
		if class != "" {
			limit := s.cfg.SubmitPerMinute
			if class == classPoll {
				limit = s.cfg.PollPerMinute
			}
			if !s.limiter.allow(w, p.key.TeamID, class+" "+r.Pattern, limit) {
				writeError(w, r, http.StatusTooManyRequests, "Rate limit exceeded; retry after the time in Retry-After")
				return
			}
		}
		h(w, r)
	})
}

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware gives every request an ID, counts it, and turns a panic into a
// 500 in the API's error shape instead of a dropped connection.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := uuid.NewString()
		r = r.WithContext(context.WithValue(r.Context(), keyRequestID, id))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if sw.code == 0 {
					writeError(sw, r, http.StatusInternalServerError, "Internal error")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.metrics.observeRequest(route, r.Method, sw.code, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the models are loaded and the store and queue answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"models": "ok", "store": "ok", "queue": "ok"}
	ok := true
	if err := s.store.Ping(ctx); err != nil {
		checks["store"], ok = err.Error(), false
	}
	if err := s.queue.Ping(ctx); err != nil {
		checks["queue"], ok = err.Error(), false
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": map[bool]string{true: "ready", false: "not ready"}[ok], "checks": checks})
}
