package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/livetranscribe"
)

// aaiFinishTimeout bounds the final recognition after Terminate, and
// aaiWriteGrace the writing of its results: AssemblyAI's quickstart closes
// the socket 2 s after sending Terminate (the official SDK waits 5 s), and
// Termination must reach it; on a loaded server the last words are lost
// rather than the Termination.
const (
	aaiFinishTimeout = 1500 * time.Millisecond
	aaiWriteGrace    = 300 * time.Millisecond
)

// aaiSocket answers GET /v3/ws. The upgrade comes first, so that every
// refusal is a close code the vendor's clients know (docs/API.md §3), and it
// loads nothing: the SDK gives the handshake 1 s.
func (s *Server) aaiSocket(w http.ResponseWriter, r *http.Request) {
	if !s.liveStarted() {
		writeError(w, r, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	defer s.liveWG.Done()
	c, err := s.acceptLive(w, r)
	if err != nil {
		return
	}
	p, err := parseAAIParams(r.URL.Query())
	if err != nil {
		aaiClose(c, aaiInvalidMessage, err.Error())
		return
	}
	if s.openText == nil {
		aaiClose(c, aaiServerError, "Live transcription is not available on this server")
		return
	}
	id, maxDur, code, reason := s.aaiAdmit(r.Context(), aaiCredential(r))
	if code != 0 {
		aaiClose(c, code, reason)
		return
	}
	sess, err := s.openText(livetranscribe.Options{Turns: p.turns, Diarize: p.labels, MaxSpeakers: p.maxSpeakers,
		Partials: true, Prompt: p.prompt})
	if err != nil {
		s.log.Error("live transcription session", "err", err)
		s.endStream(id, api.LiveError, "session failed to start", 0)
		aaiClose(c, aaiServerError, "Server error")
		return
	}
	ac := &aaiConn{s: s, c: c, id: id, p: p, sess: sess, log: s.log.With("stream", id, "dialect", aaiDialect),
		begun: time.Now(), pumpDone: make(chan struct{})}
	ac.formatTurns.Store(p.formatTurns)
	if p.sampleRate != livetranscribe.SampleRate {
		ac.rs = audio.NewResampler(p.sampleRate, livetranscribe.SampleRate)
	}
	ac.serve(maxDur)
}

// aaiConn is one /v3/ws session being served.
type aaiConn struct {
	s    *Server
	c    *websocket.Conn
	id   string
	p    aaiParams
	sess textSession
	log  *slog.Logger

	begun    time.Time
	first    time.Time // arrival of the first audio frame
	received int64     // samples received, at the client's rate
	rs       *audio.Resampler
	closed   bool

	// The pump writes the session's events; formatTurns may change under it
	// (UpdateConfiguration), and mute stops it writing once Termination
	// had to go without it.
	formatTurns atomic.Bool
	mute        atomic.Bool
	pumpDone    chan struct{}
}

// serve runs the session until it ends; it owns the connection.
func (ac *aaiConn) serve(maxDur time.Duration) {
	s := ac.s
	s.metrics.liveActive.Inc()
	defer s.metrics.liveActive.Dec()
	begin := aaiBegin{Type: "Begin", ID: ac.id, ExpiresAt: ac.begun.Add(maxDur).Unix()}
	ac.write(begin)
	go ac.pump()
	msgs, stopReader := readMessages(ac.c)
	defer func() {
		stopReader() // the connection is closed now: a pump still writing stops
		<-ac.pumpDone
	}()

	var idle <-chan time.Time
	idleTimer := time.NewTimer(ac.p.inactivity)
	defer idleTimer.Stop()
	if ac.p.inactivity > 0 {
		idle = idleTimer.C
	}
	expire := time.NewTimer(maxDur)
	defer expire.Stop()
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for !ac.closed {
		select {
		case <-s.liveCtx.Done():
			ac.finish(closeGoingAway, "Server shutting down", true)
		case <-idle:
			ac.finish(closeNormal, "Session idle for too long", true)
		case <-expire.C:
			ac.finish(aaiExpired, "Session expired: maximum session duration exceeded", false)
		case <-beat.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.store.TouchStream(ctx, ac.id, ac.sess.Duration()); err != nil {
				ac.log.Warn("live heartbeat", "err", err)
			}
			cancel()
		case m := <-msgs:
			if m.err != nil {
				ac.gone(m.err)
				return
			}
			if ac.handle(m) && ac.p.inactivity > 0 {
				idleTimer.Reset(ac.p.inactivity)
			}
		}
	}
}

// handle acts on one message; it reports whether it counts as activity
// for inactivity_timeout.
func (ac *aaiConn) handle(m inMsg) bool {
	if m.typ == websocket.MessageBinary {
		return ac.audio(m)
	}
	var msg struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(m.data, &msg); err != nil {
		ac.fail(aaiInvalidMessage, "Invalid JSON message")
		return false
	}
	var err error
	switch msg.Type {
	case "Terminate":
		ac.finish(closeNormal, "", true)
	case "ForceEndpoint":
		err = ac.sess.EndTurn(context.Background())
	case "KeepAlive":
	case "UpdateConfiguration":
		if uerr := ac.p.aaiUpdate(m.data); uerr != nil {
			ac.fail(aaiInvalidMessage, "Invalid UpdateConfiguration: "+uerr.Error())
			return false
		}
		ac.formatTurns.Store(ac.p.formatTurns)
		err = ac.sess.SetTurnDetection(ac.p.turns)
	default:
		ac.fail(aaiInvalidMessage, fmt.Sprintf("Invalid message type %.40q", msg.Type))
		return false
	}
	if err != nil {
		ac.engineFailed(err)
		return false
	}
	return true
}

// audio checks and pushes one binary frame; it reports whether it was
// accepted.
func (ac *aaiConn) audio(m inMsg) bool {
	rate := ac.p.sampleRate
	n := len(m.data)
	if !ac.p.mulaw {
		n /= 2
	}
	if ms := float64(n) * 1000 / float64(rate); ms < 50 || ms > 1000 || (!ac.p.mulaw && len(m.data)%2 != 0) {
		ac.fail(aaiBadAudio, fmt.Sprintf("Input duration violation: %.0f ms; chunks must be 50 to 1000 ms", ms))
		return false
	}
	if ac.first.IsZero() {
		ac.first = m.at
	}
	ac.received += int64(n)
	if ahead := ac.s.cfg.LiveMaxAhead; ahead > 0 {
		sent := time.Duration(float64(ac.received) / float64(rate) * float64(time.Second))
		if sent-m.at.Sub(ac.first) > ahead {
			ac.fail(aaiBadAudio, fmt.Sprintf("Audio sent faster than real time (more than %s ahead)", ahead))
			return false
		}
	}
	x := make([]float32, n)
	if ac.p.mulaw {
		audio.DecodeMulaw(x, m.data)
	} else {
		audio.DecodePCM16(x, m.data)
	}
	if ac.rs != nil {
		x = ac.rs.Process(x)
	}
	ac.s.metrics.liveFrames.WithLabelValues("processed").Inc()
	if err := ac.sess.Push(context.Background(), x); err != nil {
		ac.engineFailed(err)
		return false
	}
	return true
}

func (ac *aaiConn) engineFailed(err error) {
	ac.log.Error("live transcription", "err", err)
	ac.fail(aaiServerError, "Server error")
}

// finish ends the session normally: the open turn is finalised and every
// event written, then (when asked for) Termination, then the close.
func (ac *aaiConn) finish(code websocket.StatusCode, reason string, termination bool) {
	ac.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), aaiFinishTimeout)
	defer cancel()
	if err := ac.sess.Close(ctx); err != nil {
		ac.log.Warn("live transcription close", "err", err)
	}
	// Close has closed the events; the pump writes what is left unless the
	// client stopped reading: Termination must not wait past its patience.
	grace := time.NewTimer(aaiWriteGrace)
	defer grace.Stop()
	select {
	case <-ac.pumpDone:
	case <-grace.C:
		ac.mute.Store(true)
	}
	if termination {
		ac.write(aaiTermination{Type: "Termination", AudioDurationSeconds: int64(math.Round(ac.audioSeconds())),
			SessionDurationSeconds: int64(math.Round(time.Since(ac.begun).Seconds()))})
	}
	status := api.LiveDone
	if code != closeNormal {
		status = api.LiveError
	}
	ac.s.endStream(ac.id, status, reason, ac.audioSeconds())
	aaiClose(ac.c, code, reason)
	ac.log.Info("live session ended", "code", int(code), "reason", reason, "audio_s", ac.audioSeconds())
}

// fail closes at once with an error code (bad input or a failed engine);
// the session is then shut down without waiting for its last words.
func (ac *aaiConn) fail(code websocket.StatusCode, reason string) {
	ac.closed = true
	ac.mute.Store(true)
	// The record first: a client that sees the close may at once ask for
	// the status or open its next session.
	ac.s.endStream(ac.id, api.LiveError, reason, ac.audioSeconds())
	aaiClose(ac.c, code, reason)
	ac.closeSession()
	ac.log.Info("live session refused input", "code", int(code), "reason", reason)
}

// gone handles the client closing or dropping the connection.
func (ac *aaiConn) gone(err error) {
	ac.closed = true
	ac.mute.Store(true)
	ac.closeSession()
	status, msg := api.LiveDone, ""
	if code := websocket.CloseStatus(err); code != closeNormal && code != closeGoingAway {
		status, msg = api.LiveError, "connection lost"
	}
	ac.s.endStream(ac.id, status, msg, ac.audioSeconds())
	ac.log.Info("live session ended by client", "status", status, "err", err)
}

// closeSession stops the session and waits for the pump to drain it.
func (ac *aaiConn) closeSession() {
	ctx, cancel := context.WithTimeout(context.Background(), aaiFinishTimeout)
	defer cancel()
	if err := ac.sess.Close(ctx); err != nil && !errors.Is(err, livetranscribe.ErrClosed) {
		ac.log.Warn("live transcription close", "err", err)
	}
	<-ac.pumpDone
}

// audioSeconds is the audio the client sent.
func (ac *aaiConn) audioSeconds() float64 {
	return float64(ac.received) / float64(ac.p.sampleRate)
}

// aaiClose closes c with code and reason, cut to the 123 bytes a close
// frame holds (a longer one would lose the code too).
func aaiClose(c *websocket.Conn, code websocket.StatusCode, reason string) {
	for len(reason) > 123 {
		_, n := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-n]
	}
	_ = c.Close(code, reason)
}
