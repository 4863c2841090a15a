package server

import (
	"math"
	"strings"

	"github.com/whospoke/whospoke/livetranscribe"
)

// rtItems maps the engine's turns onto OpenAI's conversation items. The open
// buffer has its item ID before it is committed (speech_started names it);
// committed buffers wait for their final turn. Times are seconds of input
// audio from the session's start.
type rtItems struct {
	cur, last string
	pending   []rtPending        // committed items awaiting their transcript
	usage     map[string]float64 // item → seconds of audio it holds
	in        float64            // audio appended so far
	bufStart  float64            // where the open buffer starts
}

// rtPending is a committed item: by the client (answered by a committed
// final), or by the VAD's stop at time at (answered by the silence final
// that ends there).
type rtPending struct {
	id     string
	client bool
	at     float64
}

// splitSlack: a silence final ending this long before a pending VAD stop is
// an earlier part of that speech, split off at a speaker change (each part
// holds at least a second).
const splitSlack = 0.5

func (it *rtItems) buffered() float64 { return max(0, it.in-it.bufStart) }

// commit closes the open buffer as an item the client committed (at the
// end of the audio so far) and opens item next.
func (it *rtItems) commit(next string) (id, prev string) { return it.commitAt(next, it.in, true) }

// commitAt closes the open buffer at time at (for the VAD: where the speech
// stopped) as an item awaiting its final turn, and opens item next.
func (it *rtItems) commitAt(next string, at float64, client bool) (id, prev string) {
	at = max(at, it.bufStart)
	id, prev = it.cur, it.last
	it.usage[id] = at - it.bufStart
	it.pending = append(it.pending, rtPending{id: id, client: client, at: at})
	it.last, it.cur, it.bufStart = id, next, at
	return id, prev
}

// take finds the pending item a final turn answers: the oldest client
// commit for a committed turn, the oldest VAD stop for a silence final that
// reaches it.
func (it *rtItems) take(t *livetranscribe.Turn) (string, bool) {
	for i, p := range it.pending {
		if p.client == t.Committed && (p.client || t.End >= p.at-splitSlack) {
			it.pending = append(it.pending[:i], it.pending[i+1:]...)
			return p.id, true
		}
	}
	return "", false
}

// split makes an item of a final turn no commit asked for (a speaker change
// ended it): the open buffer's while nothing is pending, else a new item
// (the open buffer's ID is taken by audio after the pending ones).
func (it *rtItems) split(fresh string, t *livetranscribe.Turn) (id, prev string) {
	if len(it.pending) == 0 {
		id, prev = it.commitAt(fresh, t.End, false)
		it.pending = it.pending[:0]
		return id, prev
	}
	id, prev = fresh, it.last
	it.usage[id] = max(0, t.End-t.Start)
	it.last = id
	return id, prev
}

func (it *rtItems) clear() { it.bufStart = it.in }

// event sends what one engine event means in OpenAI's protocol. Speaker
// events and revisions have no OpenAI counterpart (segments carry
// speakers); the session makes no partials.
func (rc *rtConn) event(ev livetranscribe.Event) {
	switch ev.Kind {
	case livetranscribe.SpeechStarted:
		rc.send(map[string]any{"type": "input_audio_buffer.speech_started", "audio_start_ms": millis(ev.Time), "item_id": rc.items.cur})
	case livetranscribe.SpeechStopped:
		rc.send(map[string]any{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": millis(ev.Time), "item_id": rc.items.cur})
		id, prev := rc.items.commitAt(rc.newID("item"), ev.Time, false)
		rc.send(map[string]any{"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": nullable(prev)})
	case livetranscribe.Final:
		rc.final(ev.Turn)
	}
}

// final completes the item a final turn answers: its text as one delta
// (whisper-1's way: text that will not change), one segment per speaker,
// then completed.
func (rc *rtConn) final(t *livetranscribe.Turn) {
	it := &rc.items
	id, ok := it.take(t)
	if !ok {
		var prev string
		id, prev = it.split(rc.newID("item"), t)
		rc.send(map[string]any{"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": nullable(prev)})
	}
	text := strings.TrimSpace(t.Text)
	if text != "" {
		rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.delta", "item_id": id,
			"content_index": 0, "delta": text})
	}
	for _, sg := range segments(t) {
		rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.segment", "item_id": id,
			"content_index": 0, "id": rc.newID("seg"), "start": sg.Start, "end": sg.End, "speaker": sg.Speaker, "text": sg.Text})
	}
	rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.completed", "item_id": id,
		"content_index": 0, "transcript": text,
		"usage": map[string]any{"type": "duration", "seconds": it.usage[id]}})
	delete(it.usage, id)
}

func millis(sec float64) int { return int(math.Round(sec * 1000)) }

// nullable is s, or JSON null for "" (the first item's predecessor).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
