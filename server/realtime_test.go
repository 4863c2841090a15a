package server

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

// rtClient is a raw client of the OpenAI Realtime transcription socket.
type rtClient struct {
	t   *testing.T
	c   *websocket.Conn
	ids map[string]bool // event_ids seen: each must be new
}

func dialRealtime(ts *testServer, key, query string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/v1/realtime" + query
	return websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: h})
}

// openRealtime connects with the test key and reads session.created.
func openRealtime(t *testing.T, ts *testServer) *rtClient {
	t.Helper()
	c, _, err := dialRealtime(ts, ts.Key, "?intent=transcription")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	rt := &rtClient{t: t, c: c, ids: map[string]bool{}}
	ev := rt.expect("session.created")
	if s := ev["session"].(map[string]any); s["type"] != "transcription" {
		t.Fatalf("session.created: %v", ev)
	}
	return rt
}

func (rt *rtClient) send(v any) {
	rt.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		rt.t.Fatal(err)
	}
	rt.sendRaw(websocket.MessageText, b)
}

func (rt *rtClient) sendRaw(typ websocket.MessageType, b []byte) {
	rt.t.Helper()
	if err := rt.c.Write(context.Background(), typ, b); err != nil {
		rt.t.Fatal(err)
	}
}

// read returns the next server event, checking its event_id is new.
func (rt *rtClient) read() map[string]any {
	rt.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, data, err := rt.c.Read(ctx)
	if err != nil {
		rt.t.Fatalf("read: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(data, &ev); err != nil {
		rt.t.Fatalf("event %s: %v", data, err)
	}
	id, _ := ev["event_id"].(string)
	if id == "" || rt.ids[id] {
		rt.t.Fatalf("event_id missing or repeated: %s", data)
	}
	rt.ids[id] = true
	return ev
}

func (rt *rtClient) expect(typ string) map[string]any {
	rt.t.Helper()
	ev := rt.read()
	if ev["type"] != typ {
		rt.t.Fatalf("got %v, want a %s event", ev, typ)
	}
	return ev
}

// expectError reads an error event and checks its code (and param and the
// client's event_id, when not "").
func (rt *rtClient) expectError(code, param, eventID string) {
	rt.t.Helper()
	ev := rt.expect("error")
	e := ev["error"].(map[string]any)
	if e["code"] != code || e["type"] == "" || e["message"] == "" {
		rt.t.Fatalf("error %v, want code %s", e, code)
	}
	if param != "" && e["param"] != param {
		rt.t.Fatalf("error %v, want param %s", e, param)
	}
	if eventID != "" && e["event_id"] != eventID {
		rt.t.Fatalf("error %v, want event_id %s", e, eventID)
	}
}

// The socket's door: the Bearer key with stream:write, intent=transcription.
func TestRealtimeHandshake(t *testing.T) {
	ts := startServerText(t, nil, liveText(t))
	readOnly, _, err := CreateKey(context.Background(), ts.store, "acme", "ro", []string{"stream:read"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, query string
		code       int
	}{
		{"", "?intent=transcription", http.StatusUnauthorized},
		{"wrong", "?intent=transcription", http.StatusUnauthorized},
		{readOnly, "?intent=transcription", http.StatusForbidden},
		{ts.Key, "", http.StatusBadRequest},
		{ts.Key, "?model=gpt-realtime", http.StatusBadRequest},
	} {
		_, resp, err := dialRealtime(ts, c.key, c.query)
		if err == nil || resp == nil || resp.StatusCode != c.code {
			t.Errorf("key %q query %q: %v %v, want %d", c.key, c.query, resp, err, c.code)
		}
	}
	rt := openRealtime(t, ts)
	rt.c.Close(websocket.StatusNormalClosure, "")
}

// Every bad client event is answered by an error event in OpenAI's shape,
// and the session goes on.
func TestRealtimeBadInput(t *testing.T) {
	ts := startServerText(t, nil, liveText(t))
	rt := openRealtime(t, ts)
	rt.sendRaw(websocket.MessageText, []byte("{not json"))
	rt.expectError("invalid_json", "", "")
	rt.sendRaw(websocket.MessageBinary, []byte{1, 2, 3})
	rt.expectError("invalid_json", "", "")
	rt.send(map[string]any{"event_id": "e1"})
	rt.expectError("missing_required_parameter", "type", "e1")
	rt.send(map[string]any{"type": "response.create", "event_id": "e2"})
	rt.expectError("invalid_value", "type", "e2")
	rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": "not base64!", "event_id": "e3"})
	rt.expectError("invalid_value", "audio", "e3")
	rt.send(map[string]any{"type": "input_audio_buffer.append"})
	rt.expectError("missing_required_parameter", "audio", "")
	for _, bad := range []struct{ session, param string }{
		{`{"type":"realtime"}`, "session.type"},
		{`{"audio":{"input":{"format":{"type":"audio/wav"}}}}`, "session.audio.input.format.type"},
		{`{"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}`, "session.audio.input.format.rate"},
		{`{"audio":{"input":{"turn_detection":{"type":"push_to_talk"}}}}`, "session.audio.input.turn_detection.type"},
		{`{"audio":{"input":{"turn_detection":{"type":"server_vad","threshold":2}}}}`, "session.audio.input.turn_detection.threshold"},
	} {
		rt.send(map[string]any{"type": "session.update", "session": json.RawMessage(bad.session)})
		rt.expectError("invalid_value", bad.param, "")
	}
	rt.send(map[string]any{"type": "input_audio_buffer.commit", "event_id": "e4"})
	rt.expectError("input_audio_buffer_commit_empty", "", "e4")
	rt.send(map[string]any{"type": "input_audio_buffer.clear"})
	rt.expect("input_audio_buffer.cleared")

	// A bad update changed nothing: the good one echoes its own settings
	// over the defaults.
	rt.send(map[string]any{"type": "session.update", "session": json.RawMessage(
		`{"type":"transcription","audio":{"input":{"format":{"type":"audio/pcmu"},"transcription":{"model":"gpt-4o-transcribe","language":"en"},"turn_detection":null}}}`)})
	ev := rt.expect("session.updated")
	in := ev["session"].(map[string]any)["audio"].(map[string]any)["input"].(map[string]any)
	if in["format"].(map[string]any)["type"] != "audio/pcmu" || in["turn_detection"] != nil ||
		in["transcription"].(map[string]any)["model"] != "gpt-4o-transcribe" {
		t.Fatalf("session.updated: %v", ev)
	}
	// 50 ms of μ-law is still too little to commit.
	rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(make([]byte, 400))})
	rt.send(map[string]any{"type": "input_audio_buffer.commit"})
	rt.expectError("input_audio_buffer_commit_empty", "", "")
	// A cleared second of audio is gone: nothing is left to commit.
	rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(make([]byte, 8000))})
	rt.send(map[string]any{"type": "input_audio_buffer.clear"})
	rt.expect("input_audio_buffer.cleared")
	rt.send(map[string]any{"type": "input_audio_buffer.commit"})
	rt.expectError("input_audio_buffer_commit_empty", "", "")
	rt.c.Close(websocket.StatusNormalClosure, "")
}

// A socket holds one of the team's live slots until it closes, however it
// closes.
func TestRealtimeLimit(t *testing.T) {
	ts := startServerText(t, func(c *Config) { c.LiveStreamsPerTeam = 1 }, liveText(t))
	first := openRealtime(t, ts)
	if _, resp, err := dialRealtime(ts, ts.Key, "?intent=transcription"); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second socket: %v %v, want 429", resp, err)
	}
	// Dropped without a close frame, mid-buffer.
	first.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(make([]byte, 9600))})
	first.c.CloseNow()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, resp, err := dialRealtime(ts, ts.Key, "?intent=transcription")
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
			break
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after the first socket dropped: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// muLaw encodes one sample as G.711 μ-law (the inverse of audio's decoder).
func muLaw(x float32) byte {
	v := int(max(-1, min(x, 0.9999)) * 32768)
	sign := byte(0x80)
	if v < 0 {
		v, sign = -v, 0
	}
	v = min(v, 32635) + 0x84
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	return ^(sign | byte(exp<<4) | byte((v>>(exp+3))&0x0f))
}

// itemEvents are one item's transcription events.
type itemEvents struct {
	deltas     []string
	segments   []map[string]any
	completed  map[string]any
	transcript string
}

// readItem reads until item id completes, collecting its deltas and
// segments; other events are returned in order.
func (rt *rtClient) readItem(id string) (itemEvents, []map[string]any) {
	rt.t.Helper()
	var it itemEvents
	var other []map[string]any
	for it.completed == nil {
		ev := rt.read()
		if ev["item_id"] != id {
			other = append(other, ev)
			continue
		}
		switch ev["type"] {
		case "conversation.item.input_audio_transcription.delta":
			it.deltas = append(it.deltas, ev["delta"].(string))
		case "conversation.item.input_audio_transcription.segment":
			it.segments = append(it.segments, ev)
		case "conversation.item.input_audio_transcription.completed":
			it.completed, it.transcript = ev, ev["transcript"].(string)
		default:
			other = append(other, ev)
		}
	}
	return it, other
}

var speakerLabel = regexp.MustCompile(`^SPEAKER_\d\d$`)

// JFK's 11 s speech sent as telephone μ-law with client commits: one item
// whose deltas add up to its transcript, with a speaker segment.
func TestRealtimeMulawCommit(t *testing.T) {
	dev := testenv.DevSet(t, "asr/jfk.wav")
	ts := startServerText(t, nil, liveText(t))
	a, err := audio.Open(context.Background(), filepath.Join(dev, "asr", "jfk.wav"), audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	x, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	x8k := audio.NewResampler(16000, 8000).Process(x)
	ulaw := make([]byte, len(x8k))
	for i, v := range x8k {
		ulaw[i] = muLaw(v)
	}
	rt := openRealtime(t, ts)
	rt.send(map[string]any{"type": "session.update", "session": json.RawMessage(
		`{"type":"transcription","audio":{"input":{"format":{"type":"audio/pcmu"},"turn_detection":null}}}`)})
	rt.expect("session.updated")
	for off := 0; off < len(ulaw); off += 800 {
		rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(ulaw[off:min(off+800, len(ulaw))])})
	}
	rt.send(map[string]any{"type": "input_audio_buffer.commit"})
	var committed map[string]any
	for committed == nil {
		if ev := rt.read(); ev["type"] == "input_audio_buffer.committed" {
			committed = ev
		} else if ev["type"] != "conversation.item.input_audio_transcription.delta" {
			t.Fatalf("before committed: %v", ev)
		}
	}
	id := committed["item_id"].(string)
	if committed["previous_item_id"] != nil {
		t.Fatalf("first item has a predecessor: %v", committed)
	}
	// Deltas sent before the commit went out under the same item ID.
	it, other := rt.readItem(id)
	for _, ev := range other {
		t.Errorf("unexpected event %v", ev)
	}
	if strings.Join(it.deltas, "") != it.transcript {
		t.Errorf("deltas %q do not add up to the transcript %q", it.deltas, it.transcript)
	}
	ref, _ := os.ReadFile(filepath.Join(dev, "asr", "jfk.txt"))
	if wer, _, _ := eval.WER(string(ref), it.transcript); wer > 0.3 {
		t.Errorf("WER %.2f: %q", wer, it.transcript)
	}
	var segText []string
	for _, sg := range it.segments {
		if !speakerLabel.MatchString(sg["speaker"].(string)) || sg["end"].(float64) <= sg["start"].(float64) {
			t.Errorf("segment %v", sg)
		}
		segText = append(segText, sg["text"].(string))
	}
	if len(it.segments) == 0 || strings.Join(segText, " ") != it.transcript {
		t.Errorf("segments %v do not tile the transcript %q", segText, it.transcript)
	}
	usage := it.completed["usage"].(map[string]any)
	if sec := usage["seconds"].(float64); usage["type"] != "duration" || sec < a.Duration()-0.1 || sec > a.Duration()+0.1 {
		t.Errorf("usage %v, want %.1f s", usage, a.Duration())
	}
	rt.send(map[string]any{"type": "input_audio_buffer.commit"})
	rt.expectError("input_audio_buffer_commit_empty", "", "")
	rt.c.Close(websocket.StatusNormalClosure, "")
}

// The first 16 s of the two-speaker digit conversation as 24 kHz PCM16
// with server VAD: each VAD stop commits an item that completes, and the
// segments name both speakers.
func TestRealtimeServerVAD(t *testing.T) {
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	ts := startServerText(t, nil, liveText(t))
	a, err := audio.Open(context.Background(), filepath.Join(dev, "sim", "sim07_digits_2spk.wav"), audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	x, err := a.Samples(0, 16*16000)
	if err != nil {
		t.Fatal(err)
	}
	x = append(x, make([]float32, 2*16000)...) // silence ends the last turn
	x24 := audio.NewResampler(16000, 24000).Process(x)
	pcm := make([]byte, 2*len(x24))
	for i, v := range x24 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(max(-1, min(v, 0.9999))*32767)))
	}
	rt := openRealtime(t, ts)
	rt.send(map[string]any{"type": "session.update", "session": json.RawMessage(
		`{"type":"transcription","audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":500}}}}`)})
	rt.expect("session.updated")
	// 4,801 bytes: odd sizes split samples across appends.
	for off := 0; off < len(pcm); off += 4801 {
		rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(pcm[off:min(off+4801, len(pcm))])})
	}
	checkServerVAD(t, rt)
	rt.c.Close(websocket.StatusNormalClosure, "")
}

// checkServerVAD reads events until every speech the VAD started has
// stopped and every committed item has completed.
func checkServerVAD(t *testing.T, rt *rtClient) {
	t.Helper()
	started, stopped, stopCommits := 0, 0, 0
	var prev any
	items := map[string]*itemEvents{}
	var order []string
	done := func() bool {
		for _, it := range items {
			if it.completed == nil {
				return false
			}
		}
		// Each stop commits an item at once; speaker changes may commit
		// more, without a stop.
		return started > 0 && started == stopped && stopCommits == stopped
	}
	for !done() {
		ev := rt.read()
		id, _ := ev["item_id"].(string)
		switch ev["type"] {
		case "input_audio_buffer.speech_started":
			started++
		case "input_audio_buffer.speech_stopped":
			stopped++
		case "input_audio_buffer.committed":
			if prev == "input_audio_buffer.speech_stopped" {
				stopCommits++
			}
			items[id] = &itemEvents{}
			order = append(order, id)
		case "conversation.item.input_audio_transcription.delta":
		case "conversation.item.input_audio_transcription.segment":
			items[id].segments = append(items[id].segments, ev)
		case "conversation.item.input_audio_transcription.completed":
			items[id].completed, items[id].transcript = ev, ev["transcript"].(string)
		default:
			t.Fatalf("unexpected %v", ev)
		}
		prev = ev["type"]
	}
	// A turn split at a speaker change may complete after the VAD stop's
	// item that follows it: the audio's order is the segments'.
	slices.SortStableFunc(order, func(x, y string) int {
		return cmp.Compare(firstStart(items[x]), firstStart(items[y]))
	})
	var text []string
	speakers := map[string]bool{}
	for _, id := range order {
		text = append(text, items[id].transcript)
		for _, sg := range items[id].segments {
			speakers[sg["speaker"].(string)] = true
		}
	}
	ref := "six one two four eight four three two five nine one zero one two four two zero five three five one nine seven zero"
	wer, _, _ := eval.WER(ref, strings.Join(text, " "))
	t.Logf("%d items, speakers %v, WER %.2f: %q", len(order), speakers, wer, text)
	if len(order) < 2 || len(speakers) < 2 || wer > 0.4 {
		t.Errorf("%d items, speakers %v, WER %.2f", len(order), speakers, wer)
	}
}

func firstStart(it *itemEvents) float64 {
	if len(it.segments) == 0 {
		return math.Inf(1)
	}
	return it.segments[0]["start"].(float64)
}

// A server shutting down completes the items already committed, then
// closes the socket with 1001.
func TestRealtimeShutdown(t *testing.T) {
	ts := startServerText(t, nil, liveText(t))
	rt := openRealtime(t, ts)
	rt.send(map[string]any{"type": "session.update", "session": json.RawMessage(
		`{"type":"transcription","audio":{"input":{"turn_detection":null}}}`)})
	rt.expect("session.updated")
	x := head(t, sampleAudio(t), 5)
	s, err := x.Samples(0, x.Len())
	if err != nil {
		t.Fatal(err)
	}
	x24 := audio.NewResampler(16000, 24000).Process(s)
	pcm := make([]byte, 2*len(x24))
	for i, v := range x24 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(max(-1, min(v, 0.9999))*32767)))
	}
	rt.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(pcm)})
	rt.send(map[string]any{"type": "input_audio_buffer.commit"})
	id := rt.expect("input_audio_buffer.committed")["item_id"].(string)
	ts.stop()
	// The item completes (readItem fails otherwise). Its text is not
	// checked: the engine may finalise it empty when closed at once.
	it, _ := rt.readItem(id)
	t.Logf("transcript at shutdown: %q", it.transcript)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := rt.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after the last item: %v, want close 1001", err)
	}
}
