package server

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/livetranscribe"
)

// pump writes the session's events as they come until the session closes
// its channel. Speaker revisions are gathered and sent at most every
// speaker_labels_revision_interval_ms, and what is left at the end before
// Termination.
func (ac *aaiConn) pump() {
	defer close(ac.pumpDone)
	pending := map[int]livetranscribe.Turn{} // by turn order: the latest labels
	var tick <-chan time.Time
	if ac.p.revisionEvery > 0 {
		t := time.NewTicker(ac.p.revisionEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case ev, ok := <-ac.sess.Events():
			if !ok {
				if len(pending) > 0 {
					ac.sendRevision(pending)
				}
				return
			}
			ac.event(ev, pending)
			if ev.Kind == livetranscribe.Revision && tick == nil && len(pending) > 0 {
				ac.sendRevision(pending)
			}
		case <-tick:
			if len(pending) > 0 {
				ac.sendRevision(pending)
			}
		}
	}
}

// event writes one session event (revisions are only gathered).
func (ac *aaiConn) event(ev livetranscribe.Event, pending map[int]livetranscribe.Turn) {
	switch ev.Kind {
	case livetranscribe.SpeechStarted:
		ac.write(aaiSpeechStarted{Type: "SpeechStarted", Timestamp: aaiMillis(ev.Time), Confidence: 1})
	case livetranscribe.Partial:
		ac.write(aaiTurnMessage(ev.Turn, false, false, ac.p.labels))
	case livetranscribe.Final:
		if len(ev.Turn.Words) == 0 {
			return // a ForceEndpoint with nothing said: AssemblyAI sends no turn
		}
		formatted := ac.p.u3 || ac.formatTurns.Load()
		if formatted && !ac.p.u3 {
			// Universal-Streaming: the unformatted end of turn, then its
			// formatted version.
			ac.write(aaiTurnMessage(ev.Turn, true, false, ac.p.labels))
		}
		ac.write(aaiTurnMessage(ev.Turn, true, formatted, ac.p.labels))
	case livetranscribe.Revision:
		if ac.p.labels {
			for _, t := range ev.Revised {
				pending[t.Order] = t
			}
		}
	}
}

// sendRevision writes the gathered revisions in turn order and forgets them.
func (ac *aaiConn) sendRevision(pending map[int]livetranscribe.Turn) {
	formatted := ac.p.u3 || ac.formatTurns.Load()
	m := aaiRevision{Type: "SpeakerRevision", Revisions: []aaiRevisionItem{}}
	for _, order := range slices.Sorted(maps.Keys(pending)) {
		t := pending[order]
		m.Revisions = append(m.Revisions, aaiRevisionItemOf(&t, formatted))
	}
	clear(pending)
	ac.write(m)
}

// write sends one message; a client that does not take it in time is
// dropped (its next read fails and the session ends).
func (ac *aaiConn) write(v any) {
	if ac.mute.Load() {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		ac.log.Error("encode live message", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveWriteTimeout)
	defer cancel()
	if err := ac.c.Write(ctx, websocket.MessageText, b); err != nil {
		ac.log.Debug("live write", "err", err)
	}
}
