package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/livetranscribe"
	"github.com/whospoke/whospoke/store"
)

// oaiMinCommit is the least audio a commit takes; less is OpenAI's
// input_audio_buffer_commit_empty error.
const oaiMinCommit = 0.1

// oaiReadLimit admits OpenAI's largest append (15 MiB of base64).
const oaiReadLimit = 16 << 20

// realtimeSocket answers GET /v1/realtime?intent=transcription, OpenAI's
// Realtime transcription socket (docs/API.md §3b): the API key authorises it
// and one of the team's live slots is held while it is open.
func (s *Server) realtimeSocket(w http.ResponseWriter, r *http.Request) {
	if intent := r.URL.Query().Get("intent"); intent != "transcription" {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("Only intent=transcription sessions are served here, not %q", intent))
		return
	}
	if s.livetext == nil {
		writeError(w, r, http.StatusServiceUnavailable, "Live transcription is not available on this server")
		return
	}
	if !s.liveStarted() {
		writeError(w, r, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	defer s.liveWG.Done()
	id, err := s.reserveLiveSocket(r.Context(), authOf(r).key.TeamID, "openai")
	switch {
	case errors.Is(err, store.ErrLimit):
		writeError(w, r, http.StatusTooManyRequests, s.liveLimitMessage())
		return
	case err != nil:
		s.log.Error("reserve realtime socket", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Store unavailable")
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.endStream(id, api.LiveError, "WebSocket handshake failed: "+err.Error(), 0)
		return
	}
	c.SetReadLimit(oaiReadLimit)
	rc := newRTConn(s, c, id)
	rc.serve()
}

// rtConn is one OpenAI Realtime transcription socket being served. Its
// fields belong to serve's goroutine.
type rtConn struct {
	s   *Server
	c   *websocket.Conn
	id  string // the live stream row
	log *slog.Logger
	cfg oaiSession
	dec *oaiDecoder
	// sess starts with the first audio, so that a session.update sent
	// first (language, prompt) shapes it.
	sess   *livetranscribe.Session
	events <-chan livetranscribe.Event

	prefix string // of event, item and segment IDs
	seq    int
	items  rtItems
	closed bool
}

func newRTConn(s *Server, c *websocket.Conn, id string) *rtConn {
	prefix := randomHex(6)
	rc := &rtConn{s: s, c: c, id: id, log: s.log.With("stream", id, "dialect", "openai"), prefix: prefix}
	rc.cfg = oaiDefaultSession("sess_"+prefix, time.Now().Add(s.cfg.LiveMaxDuration))
	rc.dec = newOAIDecoder(rc.cfg.Audio.Input.Format.Type)
	rc.items = rtItems{cur: rc.newID("item"), usage: map[string]float64{}}
	return rc
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newID is a connection-unique ID: event_…, item_…, seg_….
func (rc *rtConn) newID(kind string) string {
	rc.seq++
	return fmt.Sprintf("%s_%s%06d", kind, rc.prefix, rc.seq)
}

// serve runs the socket until the client leaves, the session reaches the
// maximum duration or the server shuts down.
func (rc *rtConn) serve() {
	s := rc.s
	s.metrics.liveActive.Inc()
	defer s.metrics.liveActive.Dec()
	rc.log.Info("realtime transcription started")
	msgs, stopReader := readMessages(rc.c)
	defer stopReader()
	rc.send(map[string]any{"type": "session.created", "session": rc.cfg})

	limit := time.NewTimer(s.cfg.LiveMaxDuration)
	defer limit.Stop()
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for !rc.closed {
		select {
		case <-s.liveCtx.Done():
			rc.finish(closeGoingAway, "server shutting down", api.LiveError, "the server shut down during the stream")
		case <-limit.C:
			rc.finish(closeNormal, "maximum session duration reached", api.LiveDone, "")
		case <-beat.C:
			rc.heartbeat()
		case ev, ok := <-rc.events:
			if !ok {
				rc.finish(closeInternal, "internal error", api.LiveError, "the transcriber stopped")
				break
			}
			rc.event(ev)
		case m := <-msgs:
			if m.err != nil {
				rc.gone(m.err)
				break
			}
			rc.message(m)
		}
	}
}

func (rc *rtConn) heartbeat() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.s.store.TouchStream(ctx, rc.id, rc.items.in); err != nil {
		rc.log.Warn("realtime heartbeat", "err", err)
	}
}

// message handles one client event; bad ones are answered with an error
// event and the session goes on.
func (rc *rtConn) message(m inMsg) {
	var msg struct {
		Type    string           `json:"type"`
		EventID string           `json:"event_id"`
		Session *json.RawMessage `json:"session"`
		Audio   *string          `json:"audio"`
	}
	if m.typ != websocket.MessageText || json.Unmarshal(m.data, &msg) != nil {
		rc.sendError(&oaiErr{Type: "invalid_request_error", Code: "invalid_json",
			Message: "The server could not parse the event: expected a JSON object sent as a text message."}, "")
		return
	}
	var err *oaiErr
	switch msg.Type {
	case "session.update":
		err = rc.update(msg.Session)
	case "input_audio_buffer.append":
		err = rc.appendAudio(msg.Audio)
	case "input_audio_buffer.commit":
		err = rc.commit()
	case "input_audio_buffer.clear":
		err = rc.clear()
	case "":
		p := "type"
		err = &oaiErr{Type: "invalid_request_error", Code: "missing_required_parameter", Message: "Missing required parameter: 'type'.", Param: &p}
	default:
		err = invalidValue("type", "Invalid value: '%s'. Supported values in a transcription session are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', and 'input_audio_buffer.clear'.", msg.Type)
	}
	if err != nil {
		rc.sendError(err, msg.EventID)
	}
}

func (rc *rtConn) update(raw *json.RawMessage) *oaiErr {
	if raw == nil {
		p := "session"
		return &oaiErr{Type: "invalid_request_error", Code: "missing_required_parameter", Message: "Missing required parameter: 'session'.", Param: &p}
	}
	var u oaiSessionUpdate
	if err := json.Unmarshal(*raw, &u); err != nil {
		return invalidValue("session", "Invalid 'session': %v.", err)
	}
	cfg, oerr := u.apply(rc.cfg)
	if oerr != nil {
		return oerr
	}
	if cfg.Audio.Input.Format.Type != rc.cfg.Audio.Input.Format.Type {
		rc.dec = newOAIDecoder(cfg.Audio.Input.Format.Type)
	}
	if rc.sess != nil {
		// Language and prompt were fixed by the first audio; turn
		// detection follows every update.
		if err := rc.sess.SetTurnDetection(cfg.turnDetection()); err != nil {
			return rc.serverError(err)
		}
	}
	rc.cfg = cfg
	rc.send(map[string]any{"type": "session.updated", "session": rc.cfg})
	return nil
}

func (rc *rtConn) appendAudio(b64 *string) *oaiErr {
	if b64 == nil {
		p := "audio"
		return &oaiErr{Type: "invalid_request_error", Code: "missing_required_parameter", Message: "Missing required parameter: 'audio'.", Param: &p}
	}
	raw, err := base64.StdEncoding.DecodeString(*b64)
	if err != nil {
		return invalidValue("audio", "Invalid 'audio': expected base64-encoded audio bytes (%v).", err)
	}
	if err := rc.start(); err != nil {
		return rc.serverError(err)
	}
	samples, seconds := rc.dec.decode(raw)
	rc.items.in += seconds
	if err := rc.sess.Push(rc.s.liveCtx, samples); err != nil {
		return rc.serverError(err)
	}
	return nil
}

// start opens the transcription session with the configuration so far.
func (rc *rtConn) start() error {
	if rc.sess != nil {
		return nil
	}
	t := rc.cfg.Audio.Input.Transcription
	// No partials: OpenAI transcribes an item once it is committed, and
	// re-decoding the open buffer would only delay the finals it waits for.
	sess, err := rc.s.livetext.NewSession(livetranscribe.Options{Turns: rc.cfg.turnDetection(),
		Diarize: true, Language: t.Language, Prompt: t.Prompt})
	if err != nil {
		return err
	}
	rc.sess, rc.events = sess, sess.Events()
	return nil
}

func (rc *rtConn) commit() *oaiErr {
	if buffered := rc.items.buffered(); buffered < oaiMinCommit {
		return &oaiErr{Type: "invalid_request_error", Code: "input_audio_buffer_commit_empty",
			Message: fmt.Sprintf("Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has %.2fms of audio.", buffered*1000)}
	}
	id, prev := rc.items.commit(rc.newID("item"))
	rc.send(map[string]any{"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": nullable(prev)})
	if err := rc.sess.EndTurn(rc.s.liveCtx); err != nil {
		return rc.serverError(err)
	}
	return nil
}

func (rc *rtConn) clear() *oaiErr {
	if rc.sess != nil {
		if err := rc.sess.Clear(rc.s.liveCtx); err != nil {
			return rc.serverError(err)
		}
	}
	rc.items.clear()
	rc.send(map[string]any{"type": "input_audio_buffer.cleared"})
	return nil
}

func (rc *rtConn) serverError(err error) *oaiErr {
	rc.log.Error("realtime transcription", "err", err)
	return &oaiErr{Type: "server_error", Code: "server_error", Message: "The server had an error while processing your request: " + err.Error()}
}

// finish flushes the session (pending commits get their transcripts),
// closes the socket with code and records the end.
func (rc *rtConn) finish(code websocket.StatusCode, reason, status, msg string) {
	rc.closeSession(true)
	rc.closed = true
	rc.s.endStream(rc.id, status, msg, rc.items.in)
	if err := rc.c.Close(code, reason); err != nil {
		rc.log.Debug("realtime close", "err", err)
	}
	rc.log.Info("realtime transcription ended", "status", status, "reason", reason, "audio_s", rc.items.in)
}

// gone handles the client closing or dropping the connection.
func (rc *rtConn) gone(err error) {
	rc.closeSession(false)
	rc.closed = true
	status, msg := api.LiveDone, ""
	if code := websocket.CloseStatus(err); code != closeNormal && code != closeGoingAway {
		status, msg = api.LiveError, "connection lost: "+err.Error()
	}
	rc.s.endStream(rc.id, status, msg, rc.items.in)
	rc.log.Info("realtime transcription ended by client", "status", status, "err", err)
}

// closeSession closes the session and reads its events to the end, sending
// them when forward (else the decoding still queued is dropped).
func (rc *rtConn) closeSession(forward bool) {
	if rc.sess == nil {
		return
	}
	if err := finishText(rc.sess, forward, rc.event); err != nil {
		rc.log.Warn("realtime session close", "err", err)
	}
	rc.sess, rc.events = nil, nil
}

func (rc *rtConn) sendError(e *oaiErr, clientEventID string) {
	if clientEventID != "" {
		e.EventID = &clientEventID
	}
	rc.send(map[string]any{"type": "error", "error": e})
}

// send writes one server event with a fresh event_id; a client that does
// not take it in time is dropped (its next read fails).
func (rc *rtConn) send(ev map[string]any) {
	ev["event_id"] = rc.newID("event")
	b, err := json.Marshal(ev)
	if err != nil {
		rc.log.Error("encode realtime event", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveWriteTimeout)
	defer cancel()
	if err := rc.c.Write(ctx, websocket.MessageText, b); err != nil {
		rc.log.Debug("realtime write", "err", err)
	}
}
