package server

import (
	"math"
	"strings"

	"github.com/whospoke/whospoke/livetranscribe"
)

// rtItems maps the engine's turns onto OpenAI's conversation items. The open
// buffer has its item ID before it is committed (speech_started names it);
// committed buffers wait, in order, for their final turn. Times are seconds
// of input audio from the session's start.
type rtItems struct {
	cur, last string
	pending   []string           // committed items awaiting their transcript
	itemOf    map[int]string     // turn order → the item its deltas went to
	sent      map[int]int        // turn order → words already sent as deltas
	usage     map[string]float64 // item → seconds of audio it holds
	in        float64            // audio appended so far
	bufStart  float64            // where the open buffer starts
}

func (it *rtItems) buffered() float64 { return max(0, it.in-it.bufStart) }

// commit closes the open buffer as an item (at the end of the audio so far)
// and opens item next.
func (it *rtItems) commit(next string) (id, prev string) { return it.commitAt(next, it.in) }

// commitAt is commit with the buffer ending at time at (the server's VAD
// decides the end after the audio that proved it).
func (it *rtItems) commitAt(next string, at float64) (id, prev string) {
	at = max(at, it.bufStart)
	id, prev = it.cur, it.last
	it.usage[id] = at - it.bufStart
	it.pending = append(it.pending, id)
	it.last, it.cur, it.bufStart = id, next, at
	return id, prev
}

func (it *rtItems) clear() { it.bufStart = it.in }

// partialItem is the item a partial turn's deltas go to, or false while a
// commit awaits its final turn (the partial may be the committed turn's
// or the next one's; the final turn sends what was held back).
func (it *rtItems) partialItem(order int) (string, bool) {
	if id, ok := it.itemOf[order]; ok {
		return id, true
	}
	if len(it.pending) > 0 {
		return "", false
	}
	it.itemOf[order] = it.cur
	return it.cur, true
}

// event sends what one engine event means in OpenAI's protocol. Speaker
// events and revisions have no OpenAI counterpart: segments carry speakers.
func (rc *rtConn) event(ev livetranscribe.Event) {
	switch ev.Kind {
	case livetranscribe.SpeechStarted:
		rc.send(map[string]any{"type": "input_audio_buffer.speech_started", "audio_start_ms": millis(ev.Time), "item_id": rc.items.cur})
	case livetranscribe.SpeechStopped:
		rc.send(map[string]any{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": millis(ev.Time), "item_id": rc.items.cur})
		id, prev := rc.items.commitAt(rc.newID("item"), ev.Time)
		rc.send(map[string]any{"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": prev})
	case livetranscribe.Partial:
		if id, ok := rc.items.partialItem(ev.Turn.Order); ok {
			rc.delta(id, ev.Turn, finalPrefix(ev.Turn.Words))
		}
	case livetranscribe.Final:
		rc.final(ev.Turn)
	}
}

// delta sends the turn's words from the last one sent up to upto.
func (rc *rtConn) delta(id string, t *livetranscribe.Turn, upto int) {
	from := rc.items.sent[t.Order]
	if upto <= from {
		return
	}
	rc.items.sent[t.Order] = upto
	rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.delta", "item_id": id,
		"content_index": 0, "delta": joinFrom(t.Words[:upto], from)})
}

// final completes the oldest committed item with a final turn: the words
// not yet sent as deltas, one segment per speaker, then completed.
func (rc *rtConn) final(t *livetranscribe.Turn) {
	it := &rc.items
	if len(it.pending) == 0 {
		// The server ended the turn without a VAD stop (a speaker change).
		id, prev := it.commitAt(rc.newID("item"), t.End)
		rc.send(map[string]any{"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": prev})
	}
	id := it.pending[0]
	it.pending = it.pending[1:]
	rc.delta(id, t, len(t.Words))
	for _, sg := range segments(t) {
		rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.segment", "item_id": id,
			"content_index": 0, "id": rc.newID("seg"), "start": sg.Start, "end": sg.End, "speaker": sg.Speaker, "text": sg.Text})
	}
	rc.send(map[string]any{"type": "conversation.item.input_audio_transcription.completed", "item_id": id,
		"content_index": 0, "transcript": strings.TrimSpace(t.Text),
		"usage": map[string]any{"type": "duration", "seconds": it.usage[id]}})
	delete(it.itemOf, t.Order)
	delete(it.sent, t.Order)
	delete(it.usage, id)
}

func millis(sec float64) int { return int(math.Round(sec * 1000)) }
