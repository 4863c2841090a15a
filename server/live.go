package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/api/validate"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/store"
)

// liveDefaultThreshold is the matching threshold of live identification when
// the request gives none: unlike a batch job a live match cannot be taken
// back, so it waits for the calibrated even-odds point (docs/IDENTIFICATION.md).
const liveDefaultThreshold = 50

// createLive answers POST /v1/live: it reserves one of the team's stream
// slots and returns the stream's single-use WebSocket URL.
func (s *Server) createLive(w http.ResponseWriter, r *http.Request) {
	if s.live == nil {
		writeError(w, r, http.StatusServiceUnavailable, "Live diarization is not available on this server")
		return
	}
	var req api.LiveRequest
	// The vendor's call has no body: an empty one means the defaults.
	errs := validate.OptionalBody(w, r, &req)
	if len(errs) == 0 {
		errs = s.rules().Live(&req)
	}
	if len(errs) > 0 {
		writeInvalid(w, errs)
		return
	}
	body, err := json.Marshal(req)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "Internal error")
		return
	}
	token, err := newStreamToken()
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "Internal error")
		return
	}
	l := store.LiveStream{
		ID: newID(), TeamID: authOf(r).key.TeamID, TokenHash: HashKey(token), Request: body,
		TokenExpiresAt: time.Now().Add(s.cfg.LiveTokenTTL),
	}
	switch err := s.store.CreateStream(r.Context(), l, s.cfg.LiveStreamsPerTeam); {
	case errors.Is(err, store.ErrLimit):
		writeError(w, r, http.StatusTooManyRequests, s.liveLimitMessage())
		return
	case err != nil:
		s.log.Error("create live stream", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, api.LiveSession{ID: l.ID, URL: s.liveURL(l.ID, token)})
}

func (s *Server) liveLimitMessage() string {
	return fmt.Sprintf("Too many concurrent live streams: the limit is %d per team", s.cfg.LiveStreamsPerTeam)
}

// liveURL is the WebSocket URL of a stream: the public URL with ws(s).
func (s *Server) liveURL(id, token string) string {
	base := strings.TrimSuffix(s.cfg.PublicURL, "/")
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + "/v1/live/" + id + "/ws?token=" + token
}

// newStreamToken is 32 random bytes, URL-safe.
func newStreamToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "wst_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// getLive answers GET /v1/live/{id}.
func (s *Server) getLive(w http.ResponseWriter, r *http.Request) {
	l, err := s.store.Stream(r.Context(), authOf(r).key.TeamID, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "Live stream not found")
		return
	case err != nil:
		s.log.Error("get live stream", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, api.LiveStream{
		ID: l.ID, Status: l.Status, CreatedAt: l.CreatedAt, StartedAt: l.StartedAt, EndedAt: l.EndedAt,
		AudioSeconds: l.AudioSeconds, Error: l.Error,
	})
}

// liveSocket answers the WebSocket URL: the token is redeemed (once) before
// the upgrade, so a refused client gets a plain HTTP error in the API's shape.
func (s *Server) liveSocket(w http.ResponseWriter, r *http.Request) {
	if s.live == nil {
		writeError(w, r, http.StatusServiceUnavailable, "Live diarization is not available on this server")
		return
	}
	if !s.liveStarted() {
		writeError(w, r, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	defer s.liveWG.Done()
	token := r.URL.Query().Get("token")
	if token == "" {
		writeError(w, r, http.StatusUnauthorized, "Missing stream token")
		return
	}
	l, err := s.store.StartStream(r.Context(), r.PathValue("id"), HashKey(token), s.cfg.Node, s.cfg.LiveStreamsPerTeam)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusUnauthorized, "Invalid stream token")
		return
	case errors.Is(err, store.ErrTokenUsed):
		writeError(w, r, http.StatusUnauthorized, "Stream token already used")
		return
	case errors.Is(err, store.ErrTokenExpired):
		writeError(w, r, http.StatusUnauthorized, "Stream token expired")
		return
	case errors.Is(err, store.ErrLimit):
		writeError(w, r, http.StatusTooManyRequests, s.liveLimitMessage())
		return
	case err != nil:
		s.log.Error("start live stream", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Store unavailable")
		return
	}
	var req api.LiveRequest
	var prints []identify.Enrolled
	err = json.Unmarshal(l.Request, &req)
	if err == nil {
		prints, err = identify.DecodeInputs(req.Voiceprints)
	}
	if err != nil {
		s.endStream(l.ID, api.LiveError, "stored request unreadable: "+err.Error(), 0)
		writeError(w, r, http.StatusInternalServerError, "Internal error")
		return
	}
	c, err := s.acceptLive(w, r)
	if err != nil {
		s.endStream(l.ID, api.LiveError, "WebSocket handshake failed: "+err.Error(), 0)
		return
	}
	s.serveLive(c, l.ID, req, prints)
}

// endStream records a stream's end; it must happen even when the request
// that served the stream is gone.
func (s *Server) endStream(id, status, msg string, audioSeconds float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.EndStream(ctx, id, status, msg, audioSeconds); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("end live stream", "stream", id, "err", err)
	}
}
