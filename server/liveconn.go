package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/livetranscribe"
)

// Close codes of the live WebSocket besides 1000 (end of stream, idle,
// maximum duration): 1001 the server is shutting down, 1008 audio faster
// than real time, 1009 a message over liveMaxMessage, 1011 the engine failed.
const (
	closeNormal    = websocket.StatusNormalClosure
	closeGoingAway = websocket.StatusGoingAway
	closePolicy    = websocket.StatusPolicyViolation
	closeInternal  = websocket.StatusInternalError
)

// liveHeartbeat is how often a running stream tells the store it is alive
// (well inside store.StreamStale).
const liveHeartbeat = 10 * time.Second

// liveMaxMessage bounds one client message. Frames are 6,400 bytes; a
// wrong-sized frame up to this size is reported ("Invalid chunk size") and
// the stream goes on, as the contract says; beyond it the socket closes
// with 1009 (message too big) before the message is buffered.
const liveMaxMessage = 1 << 20

// liveWriteTimeout drops a client that stops reading its events.
const liveWriteTimeout = 10 * time.Second

func (s *Server) acceptLive(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	// The single-use token is the credential, not cookies, so any page may
	// open the socket (the web page, or a client on another origin).
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(liveMaxMessage)
	return c, nil
}

// inMsg is one message read from the client, stamped on arrival.
type inMsg struct {
	typ  websocket.MessageType
	data []byte
	at   time.Time
	err  error
}

// readMessages reads the socket on its own goroutine (a canceled Read
// would close the connection); stop closes the socket and waits for it.
func readMessages(c *websocket.Conn) (<-chan inMsg, func()) {
	msgs := make(chan inMsg, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			typ, data, err := c.Read(context.Background())
			msgs <- inMsg{typ: typ, data: data, at: time.Now(), err: err}
			if err != nil {
				return
			}
		}
	}()
	return msgs, func() {
		c.CloseNow()
		for { // unblock the reader's last send
			select {
			case <-msgs:
			case <-done:
				return
			}
		}
	}
}

// liveConn is one live stream being served.
type liveConn struct {
	s    *Server
	c    *websocket.Conn
	id   string
	req  api.LiveRequest
	sess *live.Session
	// tsess replaces sess on a stream with transcription: it runs the
	// diarizer itself and reports on textEvents.
	tsess      *livetranscribe.Session
	textEvents <-chan livetranscribe.Event
	log        *slog.Logger

	frames  int64     // valid audio frames received
	first   time.Time // arrival of the first audio frame
	rec     *audio.Recorder
	events  []live.Event // everything sent, kept only for a revision's labels
	prints  []identify.Enrolled
	matches map[string]string // live label → matched voiceprint label
	closed  bool
}

// serveLive runs one stream until it ends; it owns c.
func (s *Server) serveLive(c *websocket.Conn, id string, req api.LiveRequest, prints []identify.Enrolled) {
	lc := &liveConn{s: s, c: c, id: id, req: req, prints: prints, matches: map[string]string{},
		log: s.log.With("stream", id)}
	if err := lc.startSession(); err != nil {
		lc.log.Error("live transcription", "err", err)
		lc.sendError("Internal error: " + err.Error())
		_ = c.Close(closeInternal, "internal error")
		s.endStream(id, api.LiveError, err.Error(), 0)
		return
	}
	if req.Revision {
		ao := audio.DefaultOptions()
		ao.TempDir = filepath.Join(s.cfg.DataDir, "tmp")
		lc.rec = audio.NewRecorder(ao)
		defer lc.rec.Discard()
	}
	s.metrics.liveActive.Inc()
	defer s.metrics.liveActive.Dec()
	lc.log.Info("live stream started")

	// The reader's context outlives shutdown's: a stopping server still
	// flushes.
	msgs, stopReader := readMessages(c)
	defer stopReader()

	idle := time.NewTimer(s.cfg.LiveIdle)
	defer idle.Stop()
	limit := time.NewTimer(s.cfg.LiveMaxDuration)
	defer limit.Stop()
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for !lc.closed {
		select {
		case <-s.liveCtx.Done():
			lc.finish(closeGoingAway, "server shutting down", api.LiveError, "the server shut down during the stream")
		case <-idle.C:
			lc.finish(closeNormal, fmt.Sprintf("no audio for %s", s.cfg.LiveIdle), api.LiveDone, "")
		case <-limit.C:
			lc.finish(closeNormal, fmt.Sprintf("maximum stream duration %s reached", s.cfg.LiveMaxDuration), api.LiveDone, "")
		case <-beat.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.store.TouchStream(ctx, id, lc.duration()); err != nil {
				lc.log.Warn("live heartbeat", "err", err)
			}
			cancel()
		case ev, ok := <-lc.textEvents:
			if !ok {
				lc.finish(closeInternal, "internal error", api.LiveError, "the transcriber stopped")
				break
			}
			lc.textEvent(ev)
		case m := <-msgs:
			if m.err != nil {
				lc.gone(m.err)
				return
			}
			if m.typ == websocket.MessageBinary {
				if lc.audio(m) {
					idle.Reset(s.cfg.LiveIdle)
				}
			} else {
				lc.text(m)
			}
		}
	}
}

// startSession opens the stream's engine session: a bare diarization one,
// or a transcription one (which diarizes too) when the stream asked for it.
func (lc *liveConn) startSession() error {
	if lc.req.Transcription {
		return lc.startText()
	}
	var opts []live.Option
	if lc.req.MaxSpeakers != nil {
		opts = append(opts, live.WithMaxSpeakers(*lc.req.MaxSpeakers))
	}
	lc.sess = lc.s.live.NewSession(opts...)
	return nil
}

// audio handles one binary frame; it reports whether it was valid audio.
func (lc *liveConn) audio(m inMsg) bool {
	s := lc.s
	samples, bad, ok := api.DecodeLiveFrame(m.data)
	if !ok {
		s.metrics.liveFrames.WithLabelValues("invalid").Inc()
		lc.sendError("Invalid chunk size")
		return false
	}
	if bad > 0 {
		lc.sendError(fmt.Sprintf("Invalid audio: %d non-finite samples replaced by silence", bad))
	}
	if lc.first.IsZero() {
		lc.first = m.at
	}
	lc.frames++
	if ahead := s.cfg.LiveMaxAhead; ahead > 0 {
		audioSec := float64(lc.frames*api.LiveFrameSamples) / api.LiveSampleRate
		if audioSec-m.at.Sub(lc.first).Seconds() > ahead.Seconds() {
			lc.finish(closePolicy, fmt.Sprintf("audio sent faster than real time (more than %s ahead)", ahead),
				api.LiveError, "the client sent audio faster than real time")
			return true
		}
	}
	if lc.rec != nil {
		if err := lc.rec.Write(samples); err != nil {
			// Past the recording's limit the revision is lost, not the stream.
			lc.log.Warn("live recording stopped", "err", err)
			lc.rec.Discard()
			lc.rec = nil
		}
	}
	s.metrics.liveFrames.WithLabelValues("processed").Inc()
	var events []live.Event
	var err error
	if lc.tsess != nil {
		err = lc.tsess.Push(s.liveCtx, samples)
	} else {
		events, err = lc.sess.Push(s.liveCtx, samples)
	}
	lc.send(events, m.at)
	if err != nil {
		lc.log.Error("live engine", "err", err)
		lc.sendError("Internal error: " + err.Error())
		lc.finish(closeInternal, "internal error", api.LiveError, err.Error())
	}
	return true
}

// text handles a JSON control message.
func (lc *liveConn) text(m inMsg) {
	var msg struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(m.data, &msg); err != nil {
		lc.sendError("Invalid JSON message")
		return
	}
	switch msg.Type {
	case api.EndOfStream:
		lc.finish(closeNormal, "end of stream", api.LiveDone, "")
	default:
		lc.sendError(fmt.Sprintf("Unknown message type %q", msg.Type))
	}
}

// finish flushes the session (every open turn is closed), sends the
// revision when asked for and the stream ended normally, closes the socket
// with code and reason and records the end.
func (lc *liveConn) finish(code websocket.StatusCode, reason, status, msg string) {
	if lc.tsess != nil {
		lc.closeText(true)
	} else {
		lc.send(lc.sess.Flush(lc.s.liveCtx), time.Now())
		if err := lc.sess.Err(); err != nil {
			lc.sendError("Internal error: " + err.Error())
		}
	}
	if lc.rec != nil && status == api.LiveDone {
		lc.sendRevision()
	}
	lc.closed = true
	// The record first: a client that sees the close may at once ask for
	// the status or open its next stream.
	lc.s.endStream(lc.id, status, msg, lc.duration())
	if err := lc.c.Close(code, reason); err != nil {
		lc.log.Debug("live close", "err", err)
	}
	lc.log.Info("live stream ended", "status", status, "reason", reason, "audio_s", lc.duration())
}

// gone handles the client closing or dropping the connection without
// end_of_stream: nothing can be sent any more.
func (lc *liveConn) gone(err error) {
	if lc.tsess != nil {
		lc.closeText(false)
	} else {
		lc.sess.Flush(lc.s.liveCtx)
	}
	lc.closed = true
	status, msg := api.LiveDone, ""
	if code := websocket.CloseStatus(err); code != closeNormal && code != closeGoingAway {
		status, msg = api.LiveError, "connection lost: "+err.Error()
	}
	lc.s.endStream(lc.id, status, msg, lc.duration())
	lc.log.Info("live stream ended by client", "status", status, "err", err)
}

// send writes events, adding voiceprint matches, and records each one's
// latency from the arrival of the message that made it decidable.
func (lc *liveConn) send(events []live.Event, arrived time.Time) {
	if len(events) == 0 {
		return
	}
	if lc.rec != nil { // only a revision needs the stream's past events
		lc.events = append(lc.events, events...)
	}
	lc.match()
	for _, e := range events {
		lc.write(api.LiveEvent{Type: e.Type.String(), Data: api.SpeakerEvent{
			Timestamp: annotation.Millis(e.Time), Speaker: e.Speaker, Match: lc.matches[e.Speaker],
		}})
		lc.s.metrics.liveLatency.Observe(time.Since(arrived).Seconds())
	}
}

// match gives labelled speakers without a match yet the enrolled
// voiceprint they now match, if any. A match, once made, stays.
func (lc *liveConn) match() {
	if len(lc.prints) == 0 {
		return
	}
	speakers := lc.speakers()
	if len(lc.matches) == len(speakers) {
		return
	}
	exclusive, threshold := true, float64(liveDefaultThreshold)
	if m := lc.req.Matching; m != nil {
		if m.Exclusive != nil {
			exclusive = *m.Exclusive
		}
		if m.Threshold != nil {
			threshold = *m.Threshold
		}
	}
	order := make([]string, 0, len(speakers))
	for l := range speakers {
		order = append(order, l)
	}
	slices.Sort(order)
	taken := map[string]bool{}
	for _, v := range lc.matches {
		taken[v] = true
	}
	for _, m := range identify.Match(speakers, order, lc.prints, exclusive, threshold) {
		if m.Match == nil || lc.matches[m.Speaker] != "" || (exclusive && taken[*m.Match]) {
			continue
		}
		lc.matches[m.Speaker] = *m.Match
		taken[*m.Match] = true
	}
}

// sendRevision diarizes the whole session offline and sends its turns under
// the live labels.
func (lc *liveConn) sendRevision() {
	rec := lc.rec
	lc.rec = nil
	a, err := rec.Finish()
	if err != nil {
		lc.sendError("Revision unavailable: " + err.Error())
		return
	}
	defer a.Close()
	opt := diarize.Options{}
	if lc.req.MaxSpeakers != nil {
		opt.MaxSpeakers = *lc.req.MaxSpeakers
	}
	res, err := lc.s.pipeline.Diarize(lc.s.liveCtx, a, opt)
	if err != nil {
		lc.sendError("Revision failed: " + err.Error())
		return
	}
	sent, err := live.ToAnnotation(lc.id, lc.events)
	if err != nil {
		lc.sendError("Revision failed: " + err.Error())
		return
	}
	names := live.MatchLabels(sent, res.Diarization)
	turns := make([]api.Turn, 0, len(res.Diarization.Turns))
	for _, t := range res.Diarization.Turns {
		turns = append(turns, api.Turn{Speaker: names[t.Speaker], Start: annotation.Millis(t.Start), End: annotation.Millis(t.End)})
	}
	slices.SortStableFunc(turns, func(x, y api.Turn) int {
		return cmp.Or(cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End), cmp.Compare(x.Speaker, y.Speaker))
	})
	lc.write(api.LiveEvent{Type: api.EventRevision, Data: api.Revision{Diarization: turns}})
}

func (lc *liveConn) sendError(msg string) {
	lc.write(api.LiveEvent{Type: api.EventError, Message: msg})
}

// write sends one event; a client that does not take it in time is dropped
// (the next read fails and the stream ends).
func (lc *liveConn) write(ev api.LiveEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		lc.log.Error("encode live event", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveWriteTimeout)
	defer cancel()
	if err := lc.c.Write(ctx, websocket.MessageText, b); err != nil && !errors.Is(err, context.Canceled) {
		lc.log.Debug("live write", "err", err)
	}
}
