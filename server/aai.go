package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/livetranscribe"
	"github.com/whospoke/whospoke/store"
)

// AssemblyAI's close codes besides 1000 (docs/API.md §3).
const (
	aaiUnauthorized   = websocket.StatusPolicyViolation // 1008
	aaiServerError    = websocket.StatusCode(3005)
	aaiInvalidMessage = websocket.StatusCode(3006)
	aaiBadAudio       = websocket.StatusCode(3007)
	aaiExpired        = websocket.StatusCode(3008)
	aaiTooMany        = websocket.StatusCode(3009)
)

// aaiDialect names these sockets' stream rows.
const aaiDialect = "assemblyai"

// textSession is what a live transcription socket needs of a
// *livetranscribe.Session (tests script protocol paths with a fake).
type textSession interface {
	Push(ctx context.Context, samples []float32) error
	EndTurn(ctx context.Context) error
	SetTurnDetection(td livetranscribe.TurnDetection) error
	Close(ctx context.Context) error
	Events() <-chan livetranscribe.Event
	Duration() float64
}

// textSessions opens sessions on e; nil when e is nil (no live transcription).
func textSessions(e *livetranscribe.Engine) func(livetranscribe.Options) (textSession, error) {
	if e == nil {
		return nil
	}
	return func(o livetranscribe.Options) (textSession, error) {
		sess, err := e.NewSession(o)
		if err != nil {
			return nil, err
		}
		return sess, nil
	}
}

// aaiTokenRequest is what a /v3/token row keeps for its socket.
type aaiTokenRequest struct {
	Dialect           string `json:"dialect"`
	MaxSessionSeconds int    `json:"maxSessionSeconds"`
}

// aaiTokenHash keeps a /v3 token apart from a /v1/live one of the same row.
func aaiTokenHash(token string) string { return HashKey("v3:" + token) }

// aaiToken answers GET /v3/token: a single-use token for one /v3/ws
// session. It is a stream row in status created, so, like a POST /v1/live
// stream, it holds one of the team's slots until used or expired.
func (s *Server) aaiToken(w http.ResponseWriter, r *http.Request) {
	k, code, msg := s.aaiKey(r.Context(), aaiCredential(r))
	if code != 0 {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	if !s.limiter.allow(w, k.TeamID, classSubmit+" "+r.Pattern, s.cfg.SubmitPerMinute) {
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "Rate limit exceeded; retry after the time in Retry-After"})
		return
	}
	q := r.URL.Query()
	expires, maxSession := 0, int(aaiDefaultSessionMax/time.Second)
	if err := intParam(q, "expires_in_seconds", &expires, 1, 600); err != nil || !q.Has("expires_in_seconds") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expires_in_seconds must be an integer from 1 to 600"})
		return
	}
	if err := intParam(q, "max_session_duration_seconds", &maxSession, 60, 10800); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	secret, err := newStreamToken()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Internal error"})
		return
	}
	req, _ := json.Marshal(aaiTokenRequest{Dialect: aaiDialect, MaxSessionSeconds: maxSession})
	id := newID()
	token := id + "." + secret
	l := store.LiveStream{ID: id, TeamID: k.TeamID, TokenHash: aaiTokenHash(token), Request: req,
		TokenExpiresAt: time.Now().Add(time.Duration(expires) * time.Second)}
	switch err := s.store.CreateStream(r.Context(), l, s.cfg.LiveStreamsPerTeam); {
	case errors.Is(err, store.ErrLimit):
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": s.liveLimitMessage()})
		return
	case err != nil:
		s.log.Error("create v3 token", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "Store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// aaiCredential is the request's key or token: the token query parameter
// (browsers), else the Authorization header, which AssemblyAI's clients
// send without "Bearer" (the official SDK puts a temporary token there too).
func aaiCredential(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
}

// aaiTokenID is the stream ID a /v3 token starts with, if cred is one.
func aaiTokenID(cred string) (string, bool) {
	id, _, ok := strings.Cut(cred, ".")
	return id, ok && uuid.Validate(id) == nil
}

// aaiKey resolves an API key that may open live streams; a failure comes
// with an HTTP status and a message that never repeats the credential.
func (s *Server) aaiKey(ctx context.Context, secret string) (store.Key, int, string) {
	if secret == "" {
		return store.Key{}, http.StatusUnauthorized, "Missing authorization: send 'Authorization: <api key>'"
	}
	k, err := s.store.KeyByHash(ctx, HashKey(secret))
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && k.RevokedAt != nil:
		return store.Key{}, http.StatusUnauthorized, "Invalid API key"
	case err != nil:
		s.log.Error("key lookup", "err", err)
		return store.Key{}, http.StatusServiceUnavailable, "Key store unavailable"
	case !(principal{key: k}).can("stream:write"):
		return store.Key{}, http.StatusForbidden, "API key lacks the stream:write permission"
	}
	return k, 0, ""
}

// aaiAdmit authenticates a /v3/ws connection and takes its stream slot. It
// returns the stream row and the session's time limit, or the close code
// and reason to refuse it with.
func (s *Server) aaiAdmit(ctx context.Context, cred string) (string, time.Duration, websocket.StatusCode, string) {
	id, isToken := aaiTokenID(cred)
	if !isToken {
		k, code, msg := s.aaiKey(ctx, cred)
		switch code {
		case 0:
		case http.StatusServiceUnavailable:
			return "", 0, aaiServerError, msg
		default:
			return "", 0, aaiUnauthorized, msg
		}
		id, err := s.reserveLiveSocket(ctx, k.TeamID, aaiDialect)
		if err != nil {
			code, msg := s.aaiReserveError(err)
			return "", 0, code, msg
		}
		return id, aaiDefaultSessionMax, 0, ""
	}
	l, err := s.store.StartStream(ctx, id, aaiTokenHash(cred), s.cfg.Node, s.cfg.LiveStreamsPerTeam)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", 0, aaiUnauthorized, "Invalid temporary token"
	case errors.Is(err, store.ErrTokenUsed):
		return "", 0, aaiUnauthorized, "Temporary token already used"
	case errors.Is(err, store.ErrTokenExpired):
		return "", 0, aaiUnauthorized, "Temporary token expired"
	}
	if err != nil {
		code, msg := s.aaiReserveError(err)
		return "", 0, code, msg
	}
	var req aaiTokenRequest
	if err := json.Unmarshal(l.Request, &req); err != nil {
		s.endStream(l.ID, api.LiveError, "stored token request unreadable", 0)
		return "", 0, aaiServerError, "Server error"
	}
	return l.ID, time.Duration(req.MaxSessionSeconds) * time.Second, 0, ""
}

// aaiReserveError maps a slot reservation's error to a close code.
func (s *Server) aaiReserveError(err error) (websocket.StatusCode, string) {
	if errors.Is(err, store.ErrLimit) {
		return aaiTooMany, "Too many concurrent sessions: the limit is " + strconv.Itoa(s.cfg.LiveStreamsPerTeam) + " per team"
	}
	s.log.Error("reserve live socket", "err", err)
	return aaiServerError, "Server error"
}
