package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/livetranscribe"
)

// fakeText is a scripted live transcription session, for the protocol's
// paths that do not need recognition: the first audio starts speech and a
// partial, EndTurn finalises a two-speaker turn, Close relabels it.
type fakeText struct {
	mu      sync.Mutex
	opt     livetranscribe.Options
	td      livetranscribe.TurnDetection
	samples int
	closed  bool
	events  chan livetranscribe.Event
	pushErr error // what Push says (a recogniser that died: ErrFailed)
}

// fakeTurn is a turn whose words two speakers share.
func fakeTurn() *livetranscribe.Turn {
	return &livetranscribe.Turn{Order: 0, Start: 0.5, End: 1.6, Text: " Hello, World!", Speaker: "SPEAKER_01",
		EndOfTurnConfidence: 0.9, Words: []livetranscribe.Word{
			{Text: "Hello,", Start: 0.5, End: 0.9, Confidence: 0.8, Final: true, Speaker: "SPEAKER_01"},
			{Text: "World!", Start: 1.0, End: 1.6, Confidence: 0.7, Final: true, Speaker: "SPEAKER_00"},
		}}
}

func (f *fakeText) Push(ctx context.Context, x []float32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushErr != nil {
		return f.pushErr
	}
	if f.samples == 0 {
		t := fakeTurn()
		t.Words = t.Words[:1]
		t.Words[0].Final = false
		f.events <- livetranscribe.Event{Kind: livetranscribe.SpeechStarted, Time: 0.5}
		f.events <- livetranscribe.Event{Kind: livetranscribe.Partial, Turn: t}
	}
	f.samples += len(x)
	return nil
}

func (f *fakeText) EndTurn(ctx context.Context) error {
	f.events <- livetranscribe.Event{Kind: livetranscribe.Final, Turn: fakeTurn()}
	return nil
}

func (f *fakeText) SetTurnDetection(td livetranscribe.TurnDetection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.td = td
	return nil
}

func (f *fakeText) Close(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return livetranscribe.ErrClosed
	}
	f.closed = true
	t := fakeTurn()
	t.Speaker, t.Words[0].Speaker = "SPEAKER_00", "SPEAKER_00"
	f.events <- livetranscribe.Event{Kind: livetranscribe.Revision, Revised: []livetranscribe.Turn{*t}}
	close(f.events)
	return nil
}

func (f *fakeText) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeText) Events() <-chan livetranscribe.Event { return f.events }
func (f *fakeText) Duration() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return float64(f.samples) / livetranscribe.SampleRate
}

// fakeTexts records the sessions a server opens.
type fakeTexts struct {
	mu   sync.Mutex
	sess []*fakeText
}

func (fs *fakeTexts) install(s *Server) {
	s.openText = func(o livetranscribe.Options) (textSession, error) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		f := &fakeText{opt: o, events: make(chan livetranscribe.Event, 16)}
		fs.sess = append(fs.sess, f)
		return f, nil
	}
}

func (fs *fakeTexts) last(t *testing.T) *fakeText {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.sess) == 0 {
		t.Fatal("no session opened")
	}
	return fs.sess[len(fs.sess)-1]
}

func startAAI(t *testing.T, tune func(*Config)) (*testServer, *fakeTexts) {
	fs := &fakeTexts{}
	return startServer(t, tune, fs.install), fs
}

// aaiDial opens /v3/ws?query with header Authorization: auth (none when "").
func aaiDial(t *testing.T, ts *testServer, query, auth string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/v3/ws?"+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// aaiRead reads the next message, failing on a close.
func aaiRead(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %s: %v", b, err)
	}
	return m
}

// aaiClosed reads until the server closes and checks the code; it returns
// the messages before the close.
func aaiClosed(t *testing.T, c *websocket.Conn, code websocket.StatusCode) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var msgs []map[string]any
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != code {
				t.Fatalf("closed with %v, want %d (after %v)", err, code, msgs)
			}
			return msgs
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %s: %v", b, err)
		}
		msgs = append(msgs, m)
	}
}

func aaiSend(t *testing.T, c *websocket.Conn, typ websocket.MessageType, b []byte) {
	t.Helper()
	if err := c.Write(context.Background(), typ, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func aaiBeginOK(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	m := aaiRead(t, c)
	if m["type"] != "Begin" || m["id"] == "" {
		t.Fatalf("first message %v, want Begin", m)
	}
	return m
}

// A whole session with the official SDK's query (Python booleans, unknown
// parameters), μ-law at 8 kHz: Begin, SpeechStarted, a partial, the
// unformatted then formatted final with A/B labels, UpdateConfiguration
// reaching the session, the revision before Termination, then 1000.
func TestAAISession(t *testing.T) {
	ts, fs := startAAI(t, nil)
	q := "sample_rate=8000&encoding=pcm_mulaw&speaker_labels=True&format_turns=True&max_speakers=3" +
		"&speech_model=universal-streaming-english&include_partial_turns=False&continuous_partials=true" +
		"&language_detection=False&keyterms_prompt=%5B%22whospoke%22%5D&min_turn_silence=300"
	c := aaiDial(t, ts, q, ts.Key)
	begin := aaiBeginOK(t, c)
	if exp := int64(begin["expires_at"].(float64)); exp < time.Now().Add(170*time.Minute).Unix() || exp > time.Now().Add(181*time.Minute).Unix() {
		t.Fatalf("expires_at %d is not 3 h away", exp)
	}
	frame := make([]byte, 800) // 100 ms at 8 kHz, one byte a sample
	for range 3 {
		aaiSend(t, c, websocket.MessageBinary, frame)
	}
	if m := aaiRead(t, c); m["type"] != "SpeechStarted" || m["timestamp"] != 500.0 {
		t.Fatalf("want SpeechStarted at 500 ms: %v", m)
	}
	partial := aaiRead(t, c)
	if partial["type"] != "Turn" || partial["end_of_turn"] != false || partial["transcript"] != "" ||
		partial["speaker_label"] != "B" || partial["words"].([]any)[0].(map[string]any)["speaker"] != nil {
		t.Fatalf("partial %v", partial)
	}
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"ForceEndpoint"}`))
	plain, formatted := aaiRead(t, c), aaiRead(t, c)
	if plain["end_of_turn"] != true || plain["turn_is_formatted"] != false || plain["transcript"] != "hello world" {
		t.Fatalf("unformatted final %v", plain)
	}
	if formatted["turn_is_formatted"] != true || formatted["transcript"] != "Hello, World!" || formatted["utterance"] != "Hello, World!" {
		t.Fatalf("formatted final %v", formatted)
	}
	words := formatted["words"].([]any)
	if w := words[1].(map[string]any); w["speaker"] != "A" || w["start"] != 1000.0 || w["end"] != 1600.0 || w["word_is_final"] != true {
		t.Fatalf("second word %v", w)
	}
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"UpdateConfiguration","max_turn_silence":900,"end_of_turn_confidence_threshold":0.7,"keyterms_prompt":["x"]}`))
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"KeepAlive"}`))
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"Terminate"}`))
	msgs := aaiClosed(t, c, websocket.StatusNormalClosure)
	if len(msgs) != 2 || msgs[0]["type"] != "SpeakerRevision" || msgs[1]["type"] != "Termination" {
		t.Fatalf("after Terminate: %v", msgs)
	}
	rev := msgs[0]["revisions"].([]any)[0].(map[string]any)
	if rev["turn_order"] != 0.0 || rev["speaker_label"] != "A" || rev["words"].([]any)[0].(map[string]any)["speaker"] != "A" {
		t.Fatalf("revision %v", rev)
	}
	if msgs[1]["audio_duration_seconds"] != 0.0 { // 0.3 s rounds to 0
		t.Fatalf("termination %v", msgs[1])
	}
	f := fs.last(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.opt.Diarize || f.opt.MaxSpeakers != 3 || f.opt.Turns.MinSilence != 300*time.Millisecond {
		t.Errorf("session options %+v", f.opt)
	}
	if f.td.MaxSilence != 900*time.Millisecond || f.td.Confidence != 0.7 || f.td.MinSilence != 300*time.Millisecond {
		t.Errorf("UpdateConfiguration gave %+v", f.td)
	}
	// 0.3 s at 8 kHz resampled to 16 kHz (the filter holds back a few samples).
	if f.samples < 4700 || f.samples > 4800 {
		t.Errorf("%d samples reached the session, want about 4800", f.samples)
	}
	st := aaiStream(t, ts, begin["id"].(string))
	if st.Status != api.LiveDone || st.AudioSeconds < 0.29 || st.AudioSeconds > 0.31 {
		t.Errorf("stream record %+v", st)
	}
}

func aaiStream(t *testing.T, ts *testServer, id string) api.LiveStream {
	t.Helper()
	resp, body := ts.do(t, "GET", "/v1/live/"+id, ts.Key, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("stream %s: %d %s", id, resp.StatusCode, body)
	}
	return decode[api.LiveStream](t, body)
}

// u3 models format their one final; without speaker_labels no speaker
// appears anywhere; 48 kHz PCM is accepted.
func TestAAIU3WithoutLabels(t *testing.T) {
	ts, _ := startAAI(t, nil)
	c := aaiDial(t, ts, "sample_rate=48000&speech_model=u3-rt-pro", ts.Key)
	aaiBeginOK(t, c)
	aaiSend(t, c, websocket.MessageBinary, make([]byte, 48000*2/10))
	aaiRead(t, c) // SpeechStarted
	if p := aaiRead(t, c); p["speaker_label"] != nil {
		t.Fatalf("partial without labels %v", p)
	}
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"ForceEndpoint"}`))
	final := aaiRead(t, c)
	if final["turn_is_formatted"] != true || final["transcript"] != "Hello, World!" || final["speaker_label"] != nil ||
		final["words"].([]any)[0].(map[string]any)["speaker"] != nil {
		t.Fatalf("final %v", final)
	}
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"Terminate"}`))
	if msgs := aaiClosed(t, c, websocket.StatusNormalClosure); len(msgs) != 1 || msgs[0]["type"] != "Termination" {
		t.Fatalf("after Terminate: %v", msgs)
	}
}

// Refused connections get AssemblyAI's close codes: 1008 for credentials,
// 3006 for parameters.
func TestAAIRefused(t *testing.T) {
	ts, _ := startAAI(t, nil)
	readOnly, _, err := CreateKey(context.Background(), ts.store, "acme", "ro", []string{"jobs:read"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query, auth string
		code              websocket.StatusCode
	}{
		{"no key", "sample_rate=16000", "", aaiUnauthorized},
		{"bad key", "sample_rate=16000", "wsk_nope", aaiUnauthorized},
		{"no stream:write", "sample_rate=16000", readOnly, aaiUnauthorized},
		{"unknown token", "sample_rate=16000&token=" + newID() + ".x", "", aaiUnauthorized},
		{"low rate", "sample_rate=4000", ts.Key, aaiInvalidMessage},
		{"bad bool", "speaker_labels=yes", ts.Key, aaiInvalidMessage},
		{"opus", "encoding=opus", ts.Key, aaiInvalidMessage},
		{"silences", "min_turn_silence=2000&max_turn_silence=1000", ts.Key, aaiInvalidMessage},
		{"inactivity", "inactivity_timeout=2", ts.Key, aaiInvalidMessage},
		{"vad threshold", "vad_threshold=1", ts.Key, aaiInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := aaiDial(t, ts, tc.query, tc.auth)
			aaiClosed(t, c, tc.code)
		})
	}
}

// Without a live transcriber the socket closes 3005.
func TestAAIUnavailable(t *testing.T) {
	ts := startServer(t, nil)
	aaiClosed(t, aaiDial(t, ts, "sample_rate=16000", ts.Key), aaiServerError)
}

// Bad input after Begin closes the session with the vendor's code.
func TestAAIBadInput(t *testing.T) {
	ts, _ := startAAI(t, func(c *Config) { c.LiveMaxAhead = time.Second })
	pcm := func(ms int) []byte { return make([]byte, 32*ms) } // 16 kHz s16le
	fast := make([][]byte, 25)
	for i := range fast {
		fast[i] = pcm(100)
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		text   string
		code   websocket.StatusCode
	}{
		{"short frame", [][]byte{pcm(40)}, "", aaiBadAudio},
		{"long frame", [][]byte{pcm(1100)}, "", aaiBadAudio},
		{"half sample", [][]byte{append(pcm(100), 0)}, "", aaiBadAudio},
		{"faster than real time", fast, "", aaiBadAudio},
		{"bad JSON", nil, `{"type":`, aaiInvalidMessage},
		{"unknown type", nil, `{"type":"Dance"}`, aaiInvalidMessage},
		{"bad update", nil, `{"type":"UpdateConfiguration","min_turn_silence":"soon"}`, aaiInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := aaiDial(t, ts, "sample_rate=16000", ts.Key)
			id := aaiBeginOK(t, c)["id"].(string)
			for _, f := range tc.frames {
				_ = c.Write(context.Background(), websocket.MessageBinary, f)
			}
			if tc.text != "" {
				aaiSend(t, c, websocket.MessageText, []byte(tc.text))
			}
			aaiClosed(t, c, tc.code)
			if st := aaiStream(t, ts, id); st.Status != api.LiveError {
				t.Errorf("stream record %+v", st)
			}
		})
	}
}

// GET /v3/token: a single-use token that works in the query or, as the
// official SDK sends it, in the Authorization header, and carries its
// session limit into Begin's expires_at.
func TestAAIToken(t *testing.T) {
	ts, _ := startAAI(t, nil)
	token := func(q string) (int, map[string]string) {
		req, _ := http.NewRequest("GET", ts.URL+"/v3/token?"+q, nil)
		req.Header.Set("Authorization", ts.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for _, q := range []string{"", "expires_in_seconds=0", "expires_in_seconds=601", "expires_in_seconds=60&max_session_duration_seconds=59"} {
		if code, m := token(q); code != 400 || m["error"] == "" {
			t.Errorf("%q: %d %v", q, code, m)
		}
	}
	code, m := token("expires_in_seconds=60&max_session_duration_seconds=120")
	if code != 200 || m["token"] == "" {
		t.Fatalf("token: %d %v", code, m)
	}
	c := aaiDial(t, ts, "sample_rate=16000&token="+url.QueryEscape(m["token"]), "")
	if exp := int64(aaiBeginOK(t, c)["expires_at"].(float64)); exp > time.Now().Add(121*time.Second).Unix() {
		t.Fatalf("expires_at %d ignores max_session_duration_seconds", exp)
	}
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"Terminate"}`))
	aaiClosed(t, c, websocket.StatusNormalClosure)
	aaiClosed(t, aaiDial(t, ts, "sample_rate=16000&token="+url.QueryEscape(m["token"]), ""), aaiUnauthorized)

	_, m = token("expires_in_seconds=60")
	c = aaiDial(t, ts, "sample_rate=16000", m["token"])
	aaiBeginOK(t, c)
	aaiSend(t, c, websocket.MessageText, []byte(`{"type":"Terminate"}`))
	aaiClosed(t, c, websocket.StatusNormalClosure)
	aaiClosed(t, aaiDial(t, ts, "sample_rate=16000", m["token"]), aaiUnauthorized)
}

// Sockets count against the team's live limit: over it, 3009; a session
// that ended frees its slot.
func TestAAILimit(t *testing.T) {
	ts, _ := startAAI(t, func(c *Config) { c.LiveStreamsPerTeam = 1 })
	first := aaiDial(t, ts, "sample_rate=16000", ts.Key)
	aaiBeginOK(t, first)
	aaiClosed(t, aaiDial(t, ts, "sample_rate=16000", ts.Key), aaiTooMany)
	if resp, _ := ts.do(t, "POST", "/v1/live", ts.Key, map[string]any{}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("POST /v1/live beside a /v3 socket: %d", resp.StatusCode)
	}
	aaiSend(t, first, websocket.MessageText, []byte(`{"type":"Terminate"}`))
	aaiClosed(t, first, websocket.StatusNormalClosure)
	next := aaiDial(t, ts, "sample_rate=16000", ts.Key)
	aaiBeginOK(t, next)
}

// inactivity_timeout ends a silent session like Terminate would.
func TestAAIInactivity(t *testing.T) {
	ts, fs := startAAI(t, nil)
	c := aaiDial(t, ts, "sample_rate=16000&inactivity_timeout=5", ts.Key)
	aaiBeginOK(t, c)
	msgs := aaiClosed(t, c, websocket.StatusNormalClosure)
	if len(msgs) != 1 || msgs[0]["type"] != "Termination" {
		t.Fatalf("idle session: %v", msgs)
	}
	if !fs.last(t).isClosed() {
		t.Fatal("session not closed")
	}
}

// A session whose recogniser died (livetranscribe.ErrFailed) closes with
// AssemblyAI's server error code, without the panic's words, and the
// stream record ends.
func TestAAIRecogniserFailed(t *testing.T) {
	ts, fs := startAAI(t, nil)
	c := aaiDial(t, ts, "sample_rate=16000", ts.Key)
	id := aaiBeginOK(t, c)["id"].(string)
	f := fs.last(t)
	f.mu.Lock()
	f.pushErr = livetranscribe.ErrFailed
	f.mu.Unlock()
	aaiSend(t, c, websocket.MessageBinary, make([]byte, 3200))
	aaiClosed(t, c, aaiServerError)
	deadline := time.Now().Add(10 * time.Second)
	for aaiStream(t, ts, id).Status == api.LiveRunning {
		if time.Now().After(deadline) {
			t.Fatal("stream still running after the session failed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A client that vanishes mid-stream: the session is closed and the stream
// record ends, so its slot is free again.
func TestAAIAbruptDisconnect(t *testing.T) {
	ts, fs := startAAI(t, func(c *Config) { c.LiveStreamsPerTeam = 1 })
	c := aaiDial(t, ts, "sample_rate=16000", ts.Key)
	id := aaiBeginOK(t, c)["id"].(string)
	aaiSend(t, c, websocket.MessageBinary, make([]byte, 3200))
	c.CloseNow()
	deadline := time.Now().Add(10 * time.Second)
	for aaiStream(t, ts, id).Status == api.LiveRunning {
		if time.Now().After(deadline) {
			t.Fatal("stream still running after the client left")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !fs.last(t).isClosed() {
		t.Fatal("session not closed")
	}
	aaiBeginOK(t, aaiDial(t, ts, "sample_rate=16000", ts.Key))
}

// A token's max_session_duration_seconds ends its session with 3008.
func TestAAIExpired(t *testing.T) {
	if testing.Short() {
		t.Skip("a session lasts at least 60 s")
	}
	ts, _ := startAAI(t, nil)
	req, _ := http.NewRequest("GET", ts.URL+"/v3/token?expires_in_seconds=10&max_session_duration_seconds=60", nil)
	req.Header.Set("Authorization", ts.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	c := aaiDial(t, ts, "sample_rate=16000&token="+url.QueryEscape(m["token"]), "")
	aaiBeginOK(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if code := websocket.CloseStatus(err); code != aaiExpired {
				t.Fatalf("closed with %v, want 3008", err)
			}
			return
		}
	}
}
