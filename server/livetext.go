package server

import (
	"context"
	"strings"
	"time"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/livetranscribe"
)

// Live streams with `transcription: true`: a livetranscribe session (with
// its own live diarizer) serves the socket instead of a bare stream
// session; its speaker events go out as today's, its turns as transcript
// events.

// liveFlushTimeout bounds how long closing a transcription session waits for
// the turns still being decoded (a client that fed audio faster than real
// time, on a loaded server, waits this long at most for its last turns).
const liveFlushTimeout = 2 * time.Minute

// startText opens the stream's transcription session. Live has no commits:
// turns end on silence or a speaker change, as AssemblyAI's do.
func (lc *liveConn) startText() error {
	opt := livetranscribe.Options{Turns: livetranscribe.DefaultTurnDetection(), Diarize: true, Partials: true}
	if lc.req.MaxSpeakers != nil {
		opt.MaxSpeakers = *lc.req.MaxSpeakers
	}
	sess, err := lc.s.livetext.NewSession(opt)
	if err != nil {
		return err
	}
	lc.tsess, lc.textEvents = sess, sess.Events()
	return nil
}

// textEvent sends one transcription session event.
func (lc *liveConn) textEvent(ev livetranscribe.Event) {
	switch ev.Kind {
	case livetranscribe.SpeakerStart, livetranscribe.SpeakerEnd:
		typ := live.Start
		if ev.Kind == livetranscribe.SpeakerEnd {
			typ = live.End
		}
		lc.send([]live.Event{{Type: typ, Speaker: ev.Speaker, Time: ev.Time}}, time.Now())
	case livetranscribe.Partial, livetranscribe.Final:
		if len(ev.Turn.Words) > 0 {
			lc.write(api.LiveEvent{Type: api.EventTranscript, Data: transcriptOf(ev.Turn, ev.Kind == livetranscribe.Final)})
		}
	}
}

// transcriptOf is a turn as a transcript event's data.
func transcriptOf(t *livetranscribe.Turn, final bool) api.Transcript {
	words := make([]api.WordItem, len(t.Words))
	for i, w := range t.Words {
		words[i] = api.WordItem{Start: annotation.Millis(w.Start), End: annotation.Millis(w.End), Text: w.Text, Speaker: w.Speaker}
	}
	return api.Transcript{Speaker: t.Speaker, Start: annotation.Millis(t.Start), End: annotation.Millis(t.End),
		Text: strings.TrimSpace(t.Text), Words: words, Final: final}
}

// closeText finalises the transcription session and reads its events to
// the end, sending them when forward (else the decoding still queued is
// dropped).
func (lc *liveConn) closeText(forward bool) {
	if err := finishText(lc.tsess, forward, lc.textEvent); err != nil {
		lc.log.Warn("live transcription close", "err", err)
	}
	lc.textEvents = nil
}

// finishText closes a transcription session and hands its remaining events
// to send when forward; otherwise nobody will read the last turns, so the
// decoding still queued is dropped at once.
func finishText(sess *livetranscribe.Session, forward bool, send func(livetranscribe.Event)) error {
	ctx, cancel := context.WithTimeout(context.Background(), liveFlushTimeout)
	defer cancel()
	if !forward {
		cancel()
		send = func(livetranscribe.Event) {}
	}
	return sess.Finish(ctx, send)
}

func (lc *liveConn) duration() float64 {
	if lc.tsess != nil {
		return lc.tsess.Duration()
	}
	return lc.sess.Duration()
}

func (lc *liveConn) speakers() map[string][]float32 {
	if lc.tsess != nil {
		return lc.tsess.Speakers()
	}
	return lc.sess.Speakers()
}
