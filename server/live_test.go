package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/client"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/live"
)

// fast lets tests stream faster than real time.
func fast(c *Config) { c.LiveMaxAhead = -1 }

func sampleAudio(t testing.TB) *audio.Audio {
	t.Helper()
	a, err := audio.Open(context.Background(), sampleWAV(t), audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// head is the first n seconds of a.
func head(t testing.TB, a *audio.Audio, seconds float64) *audio.Audio {
	s, err := a.Samples(0, int64(seconds*16000))
	if err != nil {
		t.Fatal(err)
	}
	return audio.FromSamples(s)
}

func (ts *testServer) client() *client.Client { return &client.Client{BaseURL: ts.URL, Key: ts.Key} }

func eventsOfType(res client.Result, typ string) []client.Event {
	var out []client.Event
	for _, e := range res.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// The sample conversation through the whole protocol: a consistent event
// stream with the reference's two speakers at the reference's times, a
// normal close, the status record, and a token that works once.
func TestLiveSample(t *testing.T) {
	ts := startServer(t, fast)
	a := sampleAudio(t)
	sess, err := ts.client().CreateLive(context.Background(), api.LiveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sess.URL, "ws://") || !strings.Contains(sess.URL, "/v1/live/"+sess.ID+"/ws?token=") {
		t.Fatalf("url %s", sess.URL)
	}
	resp, body := ts.do(t, "GET", "/v1/live/"+sess.ID, ts.Key, nil)
	if st := decode[api.LiveStream](t, body); resp.StatusCode != 200 || st.Status != api.LiveCreated || st.StartedAt != nil {
		t.Fatalf("before connecting: %d %s", resp.StatusCode, body)
	}
	res, err := client.StreamTo(context.Background(), sess.URL, a, client.StreamOptions{Pace: client.Max})
	if err != nil {
		t.Fatalf("stream: %v (%+v)", err, res)
	}
	evs := client.SpeakerEvents(res.Events)
	dur := float64(res.Sent) / 10
	if err := live.CheckEvents(evs, dur, true); err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(res.Events) {
		t.Errorf("unexpected non-speaker events: %+v", eventsOfType(res, api.EventError))
	}
	hyp, err := live.ToAnnotation("sample", evs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(hyp.Labels()); n != 2 {
		t.Fatalf("%d speakers, want 2: %v", n, hyp.Labels())
	}
	refs, err := annotation.ReadRTTM(mustOpen(t, filepath.Join(filepath.Dir(sampleWAV(t)), "sample.rttm")))
	if err != nil || len(refs) != 1 {
		t.Fatal(err)
	}
	checkTurnsWithin(t, refs[0], hyp, live.DefaultConfig().Latency)

	resp, body = ts.do(t, "GET", "/v1/live/"+sess.ID, ts.Key, nil)
	st := decode[api.LiveStream](t, body)
	if resp.StatusCode != 200 || st.Status != api.LiveDone || st.StartedAt == nil || st.EndedAt == nil || math.Abs(st.AudioSeconds-dur) > 0.01 {
		t.Fatalf("after the stream: %s", body)
	}
	// The token was used.
	_, err = client.StreamTo(context.Background(), sess.URL, a, client.StreamOptions{Pace: client.Max})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || !strings.Contains(ae.Message, "already used") {
		t.Fatalf("token reuse: %v", err)
	}
}

func mustOpen(t testing.TB, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkTurnsWithin: for every reference turn of 2 s or more, its mapped live
// speaker has a turn starting and one ending within tol of it. (Quicker
// exchanges, like the sample's 0.8 s and 1.1 s turns around 8–11 s, are
// beyond an online system at 1 s latency: it merges them.)
func checkTurnsWithin(t *testing.T, ref, hyp *annotation.Annotation, tol float64) {
	t.Helper()
	names := live.MatchLabels(hyp, ref) // reference label → live label
	for _, rt := range ref.Turns {
		if rt.End-rt.Start < 2 {
			continue
		}
		want := names[rt.Speaker]
		bestStart, bestEnd := math.Inf(1), math.Inf(1)
		for _, ht := range hyp.Turns {
			if ht.Speaker != want {
				continue
			}
			bestStart = min(bestStart, math.Abs(ht.Start-rt.Start))
			bestEnd = min(bestEnd, math.Abs(ht.End-rt.End))
		}
		if bestStart > tol || bestEnd > tol {
			t.Errorf("reference turn %s %.2f–%.2f: nearest live %s start off by %.2f s, end by %.2f s (tolerance %.1f s)",
				rt.Speaker, rt.Start, rt.End, want, bestStart, bestEnd, tol)
		}
	}
}

// dial opens a stream's socket directly, for protocol-level tests.
func dial(t *testing.T, ts *testServer, req api.LiveRequest) (*websocket.Conn, string) {
	t.Helper()
	sess, err := ts.client().CreateLive(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.Dial(context.Background(), sess.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, sess.ID
}

// readUntilClose collects text messages until the server closes.
func readUntilClose(t *testing.T, c *websocket.Conn) ([]client.Event, websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var evs []client.Event
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			errors.As(err, &ce)
			return evs, websocket.CloseStatus(err), ce.Reason
		}
		evs = append(evs, decodeLive(t, data))
	}
}

func decodeLive(t *testing.T, data []byte) client.Event {
	t.Helper()
	ev := decode[struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}](t, data)
	return client.Event{Raw: data, LiveEvent: api.LiveEvent{Type: ev.Type, Message: ev.Message}}
}

// readOne reads the next text message.
func readOne(t *testing.T, c *websocket.Conn) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return decodeLive(t, data)
}

func write(t *testing.T, c *websocket.Conn, typ websocket.MessageType, b []byte) {
	t.Helper()
	if err := c.Write(context.Background(), typ, b); err != nil {
		t.Fatal(err)
	}
}

// Bad input is reported and the stream goes on: wrong frame sizes,
// non-JSON text, unknown message types, non-finite samples.
func TestLiveBadInput(t *testing.T) {
	ts := startServer(t, fast)
	c, id := dial(t, ts, api.LiveRequest{})
	frame := make([]byte, api.LiveFrameBytes)
	for _, tc := range []struct {
		typ  websocket.MessageType
		data []byte
		want string
	}{
		{websocket.MessageBinary, make([]byte, 3200), "Invalid chunk size"},
		{websocket.MessageBinary, make([]byte, api.LiveFrameBytes+1), "Invalid chunk size"},
		{websocket.MessageBinary, make([]byte, 70<<10), "Invalid chunk size"}, // reported, not closed (1009)
		{websocket.MessageText, []byte("hello"), "Invalid JSON message"},
		{websocket.MessageText, []byte(`{"type":"start_of_stream"}`), `Unknown message type "start_of_stream"`},
		{websocket.MessageBinary, append([]byte{0, 0, 0xc0, 0x7f}, frame[4:]...), "Invalid audio: 1 non-finite samples replaced by silence"},
	} {
		write(t, c, tc.typ, tc.data)
		if ev := readOne(t, c); ev.Type != api.EventError || ev.Message != tc.want {
			t.Fatalf("sent %d bytes: got %s, want error %q", len(tc.data), ev.Raw, tc.want)
		}
	}
	// Still alive: audio is accepted and end_of_stream closes normally.
	for range 20 {
		write(t, c, websocket.MessageBinary, frame)
	}
	write(t, c, websocket.MessageText, []byte(`{"type":"end_of_stream"}`))
	evs, code, _ := readUntilClose(t, c)
	if code != websocket.StatusNormalClosure || len(evs) != 0 {
		t.Fatalf("close %d, events %v", code, evs)
	}
	_, body := ts.do(t, "GET", "/v1/live/"+id, ts.Key, nil)
	if st := decode[api.LiveStream](t, body); st.Status != api.LiveDone || st.AudioSeconds != 2.1 {
		t.Fatalf("status %s", body)
	}
}

// With the real-time limit on, audio sent faster closes the stream with
// 1008 and a reason; the turns so far are flushed first.
func TestLiveTooFast(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.LiveMaxAhead = time.Second })
	a := head(t, sampleAudio(t), 12)
	res, err := ts.client().Stream(context.Background(), a, client.StreamOptions{Pace: client.Max})
	if err == nil || res.CloseCode != websocket.StatusPolicyViolation || !strings.Contains(res.CloseReason, "faster than real time") {
		t.Fatalf("close %d %q, err %v", res.CloseCode, res.CloseReason, err)
	}
	if err := live.CheckEvents(client.SpeakerEvents(res.Events), 12, true); err != nil {
		t.Fatalf("events not flushed before the close: %v", err)
	}
}

// A stream without audio for LiveIdle is flushed and closed normally.
func TestLiveIdle(t *testing.T) {
	ts := startServer(t, func(c *Config) { fast(c); c.LiveIdle = 500 * time.Millisecond })
	a := head(t, sampleAudio(t), 10)
	start := time.Now()
	res, err := ts.client().Stream(context.Background(), a, client.StreamOptions{Pace: client.Max, SkipEndOfStream: true})
	if err != nil || !strings.Contains(res.CloseReason, "no audio for 500ms") {
		t.Fatalf("close %d %q, err %v", res.CloseCode, res.CloseReason, err)
	}
	if err := live.CheckEvents(client.SpeakerEvents(res.Events), 10, true); err != nil || len(res.Events) == 0 {
		t.Fatalf("idle close without a flush: %v (%d events)", err, len(res.Events))
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("idle close took %s", time.Since(start))
	}
}

// Tokens expire unused; the per-team limit refuses extra streams at creation
// and at connection; the API answers in its error shape.
func TestLiveTokensAndLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) { fast(c); c.LiveStreamsPerTeam = 2; c.LiveTokenTTL = 300 * time.Millisecond })
	ctx := context.Background()
	cl := ts.client()
	expired, err := cl.CreateLive(ctx, api.LiveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	_, err = client.StreamTo(ctx, expired.URL, head(t, sampleAudio(t), 1), client.StreamOptions{Pace: client.Max})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Stream token expired" {
		t.Fatalf("expired token: %v", err)
	}
	// Wrong token, missing token.
	for _, u := range []string{strings.Replace(expired.URL, "token=", "token=x", 1), strings.Split(expired.URL, "?")[0]} {
		_, resp, err := websocket.Dial(ctx, u, nil)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("%s: %v", u, err)
		}
	}

	a, err := cl.CreateLive(ctx, api.LiveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.CreateLive(ctx, api.LiveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateLive(ctx, api.LiveRequest{})
	if !errors.As(err, &ae) || ae.Status != 429 || !strings.Contains(ae.Message, "limit is 2 per team") {
		t.Fatalf("third stream: %v", err)
	}
	_ = a
	_ = b

	// Requests the API refuses.
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"maxSpeakers":0}`, "maxSpeakers"},
		{`{"maxSpeakers":"two"}`, "maxSpeakers"},
		{`{"transcription":true}`, "transcription"},
		{`{"voiceprints":[{"label":"A","voiceprint":"bad"}]}`, "voiceprints[0].voiceprint"},
		{`{"matching":{"threshold":101}}`, "matching.threshold"},
		{`[`, "body"},
	} {
		resp, body := ts.do(t, "POST", "/v1/live", ts.Key, []byte(tc.body))
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
		}
	}
	// Keys: none, and one without the stream permissions.
	if resp, _ := ts.do(t, "POST", "/v1/live", "", nil); resp.StatusCode != 401 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	jobsOnly, _, err := CreateKey(ctx, ts.store, "acme", "jobs", []string{"jobs:read"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := ts.do(t, "POST", "/v1/live", jobsOnly, nil); resp.StatusCode != 403 {
		t.Errorf("key without stream:write: %d", resp.StatusCode)
	}
	other, _, err := CreateKey(ctx, ts.store, "other-team", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := ts.do(t, "GET", "/v1/live/"+a.ID, other, nil); resp.StatusCode != 404 {
		t.Errorf("other team's stream: %d", resp.StatusCode)
	}
}

// The limit also holds at connection time: with limit 1, a second stream
// cannot start while the first runs.
func TestLiveLimitAtConnect(t *testing.T) {
	ts := startServer(t, func(c *Config) { fast(c); c.LiveStreamsPerTeam = 1 })
	c, _ := dial(t, ts, api.LiveRequest{})
	write(t, c, websocket.MessageBinary, make([]byte, api.LiveFrameBytes))
	resp, body := ts.do(t, "POST", "/v1/live", ts.Key, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream while one runs: %d %s", resp.StatusCode, body)
	}
	write(t, c, websocket.MessageText, []byte(`{"type":"end_of_stream"}`))
	if _, code, _ := readUntilClose(t, c); code != websocket.StatusNormalClosure {
		t.Fatalf("close %d", code)
	}
	if resp, body := ts.do(t, "POST", "/v1/live", ts.Key, nil); resp.StatusCode != 200 {
		t.Fatalf("after the first ended: %d %s", resp.StatusCode, body)
	}
}

// Revision and live identification (extensions): voiceprints of the
// sample's two speakers, made by the offline pipeline, label the live
// speakers; the revision comes once, after the flush, under live labels.
func TestLiveRevisionAndMatch(t *testing.T) {
	ts := startServer(t, fast)
	a := sampleAudio(t)
	p := pipeline(t)
	res, err := p.Diarize(context.Background(), a, diarize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	embs, err := identify.SpeakerEmbeddings(context.Background(), p, a, res)
	if err != nil {
		t.Fatal(err)
	}
	// Enrol the speakers with enough speech for a voiceprint (the offline
	// pass also finds a third, 0.4 s one).
	names := map[string]string{}
	var prints []api.VoiceprintInput
	for s, v := range embs {
		if speechOf(res.Diarization, s) >= 5 {
			names[s] = "Person " + s[len(s)-2:]
			prints = append(prints, api.VoiceprintInput{Label: names[s], Voiceprint: identify.Encode(v)})
		}
	}
	if len(prints) != 2 {
		t.Fatalf("%d speakers with 5 s of speech, want 2", len(prints))
	}
	streamed, err := ts.client().Stream(context.Background(), a, client.StreamOptions{Pace: client.Max,
		Request: api.LiveRequest{Revision: true, Voiceprints: prints}})
	if err != nil {
		t.Fatal(err)
	}
	revs := eventsOfType(streamed, api.EventRevision)
	if len(revs) != 1 || streamed.Events[len(streamed.Events)-1].Type != api.EventRevision {
		t.Fatalf("%d revisions; last event %s", len(revs), streamed.Events[len(streamed.Events)-1].Raw)
	}
	hyp, _ := live.ToAnnotation("s", client.SpeakerEvents(streamed.Events))
	rev := &annotation.Annotation{}
	for _, tr := range revs[0].Revision.Diarization {
		rev.Turns = append(rev.Turns, annotation.Turn{Segment: annotation.Segment{Start: tr.Start, End: tr.End}, Speaker: tr.Speaker})
	}
	// The revision speaks of the live speakers under their live labels (and
	// of any speaker the live pass missed under a new one), and it is the
	// offline result up to those names.
	for _, l := range hyp.Labels() {
		if !slices.Contains(rev.Labels(), l) {
			t.Fatalf("revision labels %v lack live speaker %s", rev.Labels(), l)
		}
	}
	if len(rev.Labels()) != len(res.Diarization.Labels()) {
		t.Fatalf("revision labels %v, offline %v", rev.Labels(), res.Diarization.Labels())
	}
	if len(rev.Turns) != len(res.Diarization.Turns) {
		t.Fatalf("revision has %d turns, offline %d", len(rev.Turns), len(res.Diarization.Turns))
	}
	// Every live speaker matches, and as the offline speaker it is.
	offlineOf := live.MatchLabels(res.Diarization, hyp) // live → offline
	seen := map[string]bool{}
	for _, e := range streamed.Events {
		if e.Speaker == nil || e.Speaker.Match == "" {
			continue
		}
		seen[e.Speaker.Speaker] = true
		if want := names[offlineOf[e.Speaker.Speaker]]; e.Speaker.Match != want {
			t.Errorf("%s matched %q, want %q", e.Speaker.Speaker, e.Speaker.Match, want)
		}
	}
	if len(seen) != 2 {
		t.Errorf("%d live speakers matched, want 2", len(seen))
	}
}

// Stopping the server closes open streams with 1001 after flushing them.
func TestLiveShutdown(t *testing.T) {
	ts := startServer(t, nil)
	a := sampleAudio(t)
	var (
		res  client.Result
		err  error
		wg   sync.WaitGroup
		some = make(chan struct{})
		once sync.Once
	)
	wg.Go(func() {
		res, err = ts.client().Stream(context.Background(), a, client.StreamOptions{Pace: client.Realtime,
			OnEvent: func(client.Event) { once.Do(func() { close(some) }) }})
	})
	select {
	case <-some:
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
	}
	ts.stop()
	wg.Wait()
	if res.CloseCode != websocket.StatusGoingAway || err == nil {
		t.Fatalf("close %d %q err %v", res.CloseCode, res.CloseReason, err)
	}
	if err := live.CheckEvents(client.SpeakerEvents(res.Events), float64(res.Sent)/10, true); err != nil {
		t.Fatalf("not flushed at shutdown: %v", err)
	}
}

// Soak: 8 concurrent streams of 2 minutes each; every one completes with a
// consistent event stream (goleak in TestMain checks nothing is left running).
func TestLiveSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	ts := startServer(t, fast)
	samples, err := sampleAudio(t).Samples(0, 30*16000)
	if err != nil {
		t.Fatal(err)
	}
	long := make([]float32, 0, 4*len(samples))
	for range 4 {
		long = append(long, samples...)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			res, err := ts.client().Stream(context.Background(), audio.FromSamples(long), client.StreamOptions{Pace: client.Max})
			if err != nil {
				t.Errorf("stream %d: %v", i, err)
				return
			}
			if err := live.CheckEvents(client.SpeakerEvents(res.Events), 120, true); err != nil {
				t.Errorf("stream %d: %v", i, err)
			}
			if n := len(eventsOfType(res, api.EventSpeakerStart)); n < 10 {
				t.Errorf("stream %d: only %d turns in 2 min of conversation", i, n)
			}
		})
	}
	wg.Wait()
}

func speechOf(a *annotation.Annotation, speaker string) float64 {
	var d float64
	for _, t := range a.Turns {
		if t.Speaker == speaker {
			d += t.End - t.Start
		}
	}
	return d
}
