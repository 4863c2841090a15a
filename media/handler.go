package media

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Handler serves signed media URLs:
//
//	PUT /media/{team}/{key...}  stores the body (≤ maxBytes and within the
//	                            team's quota, else 413)
//	GET /media/{team}/{key...}  streams the object (HEAD and ranges too)
//
// Both need ?expires=&sig= from signer.Sign for that method; bad or expired
// signatures get 403, missing objects 404, errors the contract's
// {"requestId","message"} JSON. maxBytes ≤ 0 means DefaultMaxBytes; quota
// is the bytes one team may store in all (≤ 0: no quota).
func Handler(store Store, signer Signer, maxBytes, quota int64) http.Handler {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	h := &handler{store: store, signer: signer, max: maxBytes, quota: quota, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /media/{team}/{key...}", h.put)
	mux.HandleFunc("GET /media/{team}/{key...}", h.get)
	return mux
}

type handler struct {
	store  Store
	signer Signer
	max    int64
	quota  int64
	now    func() time.Time
}

// authorize checks the signature for method and the path's team/key,
// writing the error response itself when it fails.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, method string) (team, key string, ok bool) {
	team, key = r.PathValue("team"), r.PathValue("key")
	q := r.URL.Query()
	if q.Get("sig") == "" || q.Get("expires") == "" {
		writeError(w, r, http.StatusForbidden, "Missing URL signature")
		return "", "", false
	}
	switch err := h.signer.Verify(method, team, key, q.Get("expires"), q.Get("sig"), h.now()); {
	case errors.Is(err, ErrExpired):
		writeError(w, r, http.StatusForbidden, "Signed URL has expired")
		return "", "", false
	case err != nil:
		writeError(w, r, http.StatusForbidden, "Invalid URL signature")
		return "", "", false
	}
	// Only reachable for keys we signed, but the store must never see a
	// key that escapes its namespace.
	if err := validate(team, key); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return "", "", false
	}
	return team, key, true
}

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	team, key, ok := h.authorize(w, r, http.MethodPut)
	if !ok {
		return
	}
	limit, msg, err := h.limit(r, team, key)
	if err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "Could not check the storage quota")
		return
	}
	if r.ContentLength > limit || limit <= 0 {
		writeError(w, r, http.StatusRequestEntityTooLarge, msg)
		return
	}
	// MaxBytesReader also tells the server to close the connection rather
	// than drain the rest of an oversize body.
	body := http.MaxBytesReader(w, r.Body, limit)
	_, err = h.store.Put(r.Context(), team, key, body, limit)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge) || errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, msg)
	case err != nil:
		writeError(w, r, http.StatusInternalServerError, "Could not store media")
	default:
		// 200 with an empty body, like an S3 pre-signed PUT.
		w.WriteHeader(http.StatusOK)
	}
}

// limit is the most bytes this upload may hold: the file size limit, or
// what is left of the team's quota (the object it replaces counted as
// free), with the message for going over. Concurrent uploads may together
// pass the quota by up to one upload each.
func (h *handler) limit(r *http.Request, team, key string) (int64, string, error) {
	if h.quota <= 0 {
		return h.max, tooLargeMsg(h.max), nil
	}
	used, err := h.store.Usage(r.Context(), team)
	if err != nil {
		return 0, "", err
	}
	if rc, size, err := h.store.Open(r.Context(), team, key); err == nil {
		rc.Close()
		used -= size
	}
	left := h.quota - used
	if left >= h.max {
		return h.max, tooLargeMsg(h.max), nil
	}
	return left, fmt.Sprintf("Team storage quota of %d bytes reached (%d stored); delete media or wait for retention", h.quota, used), nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	// HEAD is routed here by the GET pattern and uses GET-signed URLs.
	team, key, ok := h.authorize(w, r, http.MethodGet)
	if !ok {
		return
	}
	rc, size, err := h.store.Open(r.Context(), team, key)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, r, http.StatusNotFound, "Media not found")
		return
	case err != nil:
		writeError(w, r, http.StatusInternalServerError, "Could not read media")
		return
	}
	defer rc.Close()
	// Never let a browser sniff uploaded bytes into HTML served from our
	// origin.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs) // Range and HEAD support
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, rc) // a failure here means the client went away
}

func tooLargeMsg(max int64) string {
	return "Media exceeds the size limit of " + strconv.FormatInt(max, 10) + " bytes"
}

// writeError writes the contract's error body. The request ID reuses one
// set by upstream middleware (response or request header) when present.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	id := w.Header().Get("X-Request-Id")
	if id == "" && len(r.Header.Get("X-Request-Id")) <= 128 {
		id = r.Header.Get("X-Request-Id")
	}
	if id == "" {
		id = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		RequestID string `json:"requestId"`
		Message   string `json:"message"`
	}{id, msg})
}
