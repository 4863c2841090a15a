package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/store"
	"github.com/whospoke/whospoke/transcribe"
	"github.com/whospoke/whospoke/webhook"
)

// The main path: upload, diarize with every output option, read the result.
func TestDiarizeJobEndToEnd(t *testing.T) {
	ts := startServer(t, nil)
	resp, body := ts.do(t, "GET", "/v1/test", ts.Key, nil)
	if resp.StatusCode != 200 || decode[api.TestResponse](t, body).Status != "OK" {
		t.Fatalf("/v1/test: %d %s", resp.StatusCode, body)
	}
	u := ts.upload(t, "calls/sample.wav", sampleWAV(t))
	two := 2
	id := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: u, NumSpeakers: &two, Exclusive: true, Confidence: true, TurnLevelConfidence: true, Model: "precision-2"})
	j := ts.wait(t, id)
	if j.Status != api.StatusSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Output)
	}
	out := decode[api.DiarizeOutput](t, j.Output)
	speakers := map[string]bool{}
	for _, turn := range out.Diarization {
		speakers[turn.Speaker] = true
		if turn.End <= turn.Start || turn.Start < 0 || turn.End > 30.01 {
			t.Errorf("bad turn %+v", turn)
		}
		if len(turn.Confidence) == 0 {
			t.Errorf("turn without confidence: %+v", turn)
		}
	}
	if len(speakers) != 2 || len(out.ExclusiveDiarization) == 0 || out.Confidence == nil || out.Confidence.Resolution != 0.02 {
		t.Fatalf("output: %d speakers, %d exclusive turns, confidence %v", len(speakers), len(out.ExclusiveDiarization), out.Confidence != nil)
	}
	if !j.UpdatedAt.After(j.CreatedAt) {
		t.Errorf("updatedAt %v not after createdAt %v", j.UpdatedAt, j.CreatedAt)
	}

	// The job appears in the list, newest first.
	id2 := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: u})
	resp, body = ts.do(t, "GET", "/v2/jobs?limit=1", ts.Key, nil)
	list := decode[api.JobList](t, body)
	if resp.StatusCode != 200 || len(list.Items) != 1 || list.Items[0].ID != id2 || list.NextCursor == nil {
		t.Fatalf("list page 1: %s", body)
	}
	_, body = ts.do(t, "GET", "/v2/jobs?limit=1&cursor="+url.QueryEscape(*list.NextCursor), ts.Key, nil)
	list = decode[api.JobList](t, body)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("list page 2: %s", body)
	}
	_, body = ts.do(t, "GET", "/v2/jobs?status=succeeded", ts.Key, nil)
	for _, it := range decode[api.JobList](t, body).Items {
		if it.Status != api.StatusSucceeded {
			t.Fatalf("status filter returned %s", body)
		}
	}
	ts.wait(t, id2)

	// Metrics count what happened.
	_, body = ts.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{`whospoke_jobs_finished_total{status="succeeded"}`, `whospoke_jobs{status="succeeded"} 2`, "whospoke_queue_depth 0", "whospoke_audio_seconds_processed_total 60", `route="POST /v1/diarize"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Voiceprint a speaker from the dev protocol, then identify them in a
// different recording of theirs through the API.
func TestVoiceprintThenIdentify(t *testing.T) {
	dev := testenv.DevSet(t)
	ts := startServer(t, nil)
	enroll := ts.upload(t, "alice.wav", dev+"/speakers/ls_1688/1688-142285-0000.wav")
	other := ts.upload(t, "bob.wav", dev+"/speakers/ls_1998/1998-15444-0000.wav")
	test := ts.upload(t, "alice-test.wav", dev+"/speakers/ls_1688/1688-142285-0003.wav")
	vpA := ts.wait(t, ts.submit(t, "/v1/voiceprint", api.VoiceprintRequest{URL: enroll}))
	vpB := ts.wait(t, ts.submit(t, "/v1/voiceprint", api.VoiceprintRequest{URL: other}))
	if vpA.Status != api.StatusSucceeded || vpB.Status != api.StatusSucceeded {
		t.Fatalf("voiceprints: %s %s / %s %s", vpA.Status, vpA.Output, vpB.Status, vpB.Output)
	}
	a, b := decode[api.VoiceprintOutput](t, vpA.Output).Voiceprint, decode[api.VoiceprintOutput](t, vpB.Output).Voiceprint
	if len(a) == 0 || len(a) > 20000 {
		t.Fatalf("voiceprint of %d chars", len(a))
	}
	th := 50.0
	id := ts.submit(t, "/v1/identify", api.IdentifyRequest{
		DiarizeRequest: api.DiarizeRequest{URL: test},
		Voiceprints:    []api.VoiceprintInput{{Label: "Alice", Voiceprint: a}, {Label: "Bob", Voiceprint: b}},
		Matching:       &api.Matching{Threshold: &th},
	})
	j := ts.wait(t, id)
	if j.Status != api.StatusSucceeded {
		t.Fatalf("identify %s: %s", j.Status, j.Output)
	}
	out := decode[api.IdentifyOutput](t, j.Output)
	if len(out.Voiceprints) != 1 || out.Voiceprints[0].Match == nil || *out.Voiceprints[0].Match != "Alice" {
		t.Fatalf("voiceprints: %s", j.Output)
	}
	if c := out.Voiceprints[0].Confidence; c["Alice"] < 50 || c["Bob"] >= 50 {
		t.Fatalf("confidences %v", c)
	}
	if len(out.Identification) == 0 || out.Identification[0].Speaker != "Alice" || out.Identification[0].DiarizationSpeaker != "SPEAKER_00" {
		t.Fatalf("identification: %s", j.Output)
	}
}

func TestFailedJobsSayWhy(t *testing.T) {
	ts := startServer(t, nil)
	junk := t.TempDir() + "/junk.wav"
	writeFile(t, junk, []byte("this is not audio at all"))
	for name, url := range map[string]string{
		"missing media": "media://never-uploaded.wav",
		"not audio":     ts.upload(t, "junk.wav", junk),
	} {
		j := ts.wait(t, ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: url}))
		msg := decode[api.ErrorOutput](t, j.Output).Error
		if j.Status != api.StatusFailed || !strings.HasPrefix(msg, "Could not load audio") {
			t.Errorf("%s: %s %s", name, j.Status, j.Output)
		}
		// The user's words, not the server's layout.
		if team, _ := ts.store.TeamByName(t.Context(), "acme"); strings.Contains(msg, ts.cfg.DataDir) || strings.Contains(msg, team.ID) || strings.Contains(msg, "/tmp/") {
			t.Errorf("%s: server path in %q", name, msg)
		}
	}
	// A voiceprint needs at most 30 s of audio.
	j := ts.wait(t, ts.submit(t, "/v1/voiceprint", api.VoiceprintRequest{URL: ts.upload(t, "long.wav", sampleWAV(t))}))
	if msg := decode[api.ErrorOutput](t, j.Output).Error; j.Status != api.StatusFailed || !strings.Contains(msg, "30") {
		// the sample is exactly 30 s; over-limit is refused, at-limit accepted
		if j.Status != api.StatusSucceeded {
			t.Errorf("voiceprint of the 30 s sample: %s %s", j.Status, j.Output)
		}
	}
}

func TestBadRequests(t *testing.T) {
	ts := startServer(t, nil)
	unit := make([]float32, 192)
	unit[0] = 1
	vp := identify.Encode(unit)
	cases := []struct {
		name, path string
		body       any
		field      string
	}{
		{"malformed JSON", "/v1/diarize", []byte(`{"url":`), "body"},
		{"empty body", "/v1/diarize", []byte(``), "body"},
		{"wrong type", "/v1/diarize", []byte(`{"url":"media://a","numSpeakers":"two"}`), "numSpeakers"},
		{"missing url", "/v1/diarize", map[string]any{}, "url"},
		{"bad scheme", "/v1/diarize", map[string]any{"url": "ftp://example.com/a.wav"}, "url"},
		{"bad media key", "/v1/diarize", map[string]any{"url": "media://a b"}, "url"},
		{"private url", "/v1/diarize", map[string]any{"url": "http://127.0.0.1/a.wav"}, "url"},
		{"metadata url", "/v1/diarize", map[string]any{"url": "http://169.254.169.254/latest"}, "url"},
		{"private webhook", "/v1/diarize", map[string]any{"url": "media://a", "webhook": "http://10.0.0.1/hook"}, "webhook"},
		{"speakers", "/v1/diarize", map[string]any{"url": "media://a", "minSpeakers": 3, "maxSpeakers": 2}, "minSpeakers"},
		{"zero speakers", "/v1/diarize", map[string]any{"url": "media://a", "numSpeakers": 0}, "numSpeakers"},
		{"unknown model", "/v1/diarize", map[string]any{"url": "media://a", "model": "gpt-9"}, "model"},
		{"transcription", "/v1/diarize", map[string]any{"url": "media://a", "transcription": true}, "transcription"},
		{"identify transcription", "/v1/identify", map[string]any{"url": "media://a", "transcription": true, "voiceprints": []any{map[string]string{"label": "A", "voiceprint": vp}}}, "transcription"},
		{"no voiceprints", "/v1/identify", map[string]any{"url": "media://a", "voiceprints": []any{}}, "voiceprints"},
		{"SPEAKER_ label", "/v1/identify", map[string]any{"url": "media://a", "voiceprints": []any{map[string]string{"label": "speaker_01", "voiceprint": vp}}}, "voiceprints[0].label"},
		{"garbage voiceprint", "/v1/identify", map[string]any{"url": "media://a", "voiceprints": []any{map[string]string{"label": "A", "voiceprint": "bm90IGEgdm9pY2VwcmludA"}}}, "voiceprints[0].voiceprint"},
		{"threshold", "/v1/identify", map[string]any{"url": "media://a", "voiceprints": []any{map[string]string{"label": "A", "voiceprint": vp}}, "matching": map[string]any{"threshold": 101}}, "matching.threshold"},
		{"media key", "/v1/media/input", map[string]any{"url": "media://../etc/passwd"}, "url"},
		// Keys the stores refuse are refused here too, not signed for a PUT that fails.
		{"media leading slash", "/v1/media/input", map[string]any{"url": "media:///x.wav"}, "url"},
		{"media empty segment", "/v1/media/input", map[string]any{"url": "media://a//b.wav"}, "url"},
		{"media dot", "/v1/media/input", map[string]any{"url": "media://."}, "url"},
		{"media trailing slash", "/v1/media/input", map[string]any{"url": "media://dir/"}, "url"},
		{"job media key", "/v1/diarize", map[string]any{"url": "media://a//b.wav"}, "url"},
		{"media scheme", "/v1/media/output", map[string]any{"url": "https://example.com/x"}, "url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := ts.do(t, "POST", c.path, ts.Key, c.body)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			ve := decode[api.ValidationError](t, body)
			if ve.Message != "Invalid request" || len(ve.Errors) == 0 || ve.Errors[0].Field != c.field {
				t.Fatalf("answer %s; want field %s", body, c.field)
			}
		})
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "status=done", "cursor=garbage"} {
		if resp, body := ts.do(t, "GET", "/v2/jobs?"+q, ts.Key, nil); resp.StatusCode != 400 {
			t.Errorf("list %s: %d %s", q, resp.StatusCode, body)
		}
	}
	resp, body := ts.do(t, "GET", "/v1/jobs/00000000-0000-0000-0000-000000000000", ts.Key, nil)
	if e := decode[api.Error](t, body); resp.StatusCode != 404 || e.RequestID == "" || e.Message == "" {
		t.Fatalf("unknown job: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/v1/nothing", ts.Key, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
}

func TestAuthAndTeams(t *testing.T) {
	ts := startServer(t, nil)
	ctx := t.Context()
	other, _, err := CreateKey(ctx, ts.store, "globex", "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	readOnly, _, err := CreateKey(ctx, ts.store, "acme", "ro", []string{"jobs:read"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, k, err := CreateKey(ctx, ts.store, "acme", "gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.store.RevokeKey(ctx, k.TeamID, k.ID); err != nil {
		t.Fatal(err)
	}
	id := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: "media://nothing-here.wav"})

	for _, c := range []struct {
		name, method, path, key string
		want                    int
	}{
		{"no key", "GET", "/v1/test", "", 401},
		{"bad key", "GET", "/v1/test", "wsk_nope", 401},
		{"revoked key", "GET", "/v1/test", revoked, 401},
		{"other team's job", "GET", "/v1/jobs/" + id, other, 404},
		{"other team cancels", "DELETE", "/v1/jobs/" + id, other, 404},
		{"read-only submits", "POST", "/v1/diarize", readOnly, 403},
		{"read-only reads", "GET", "/v1/jobs/" + id, readOnly, 200},
	} {
		var body any
		if c.method == "POST" {
			body = api.DiarizeRequest{URL: "media://x"}
		}
		resp, b := ts.do(t, c.method, c.path, c.key, body)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d %s; want %d", c.name, resp.StatusCode, b, c.want)
		}
		if c.want != 200 {
			if e := decode[api.Error](t, b); e.RequestID == "" || e.Message == "" {
				t.Errorf("%s: error shape %s", c.name, b)
			}
		}
	}
	// The other team's list does not show acme's job.
	_, b := ts.do(t, "GET", "/v2/jobs", other, nil)
	if items := decode[api.JobList](t, b).Items; len(items) != 0 {
		t.Fatalf("globex sees %d jobs", len(items))
	}
	ts.wait(t, id)
}

func TestRateLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PollPerMinute = 3 })
	for i := 1; i <= 4; i++ {
		resp, body := ts.do(t, "GET", "/v2/jobs", ts.Key, nil)
		h := resp.Header
		if h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("request %d headers %v", i, h)
		}
		if i <= 3 {
			if resp.StatusCode != 200 || h.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) {
				t.Fatalf("request %d: %d remaining %s", i, resp.StatusCode, h.Get("X-RateLimit-Remaining"))
			}
			continue
		}
		ra, _ := strconv.Atoi(h.Get("Retry-After"))
		if resp.StatusCode != 429 || ra < 1 || ra > 60 || decode[api.Error](t, body).Message == "" {
			t.Fatalf("over limit: %d Retry-After %q %s", resp.StatusCode, h.Get("Retry-After"), body)
		}
	}
	// Submissions have their own budget.
	if resp, _ := ts.do(t, "GET", "/v1/test", ts.Key, nil); resp.StatusCode != 200 {
		t.Fatalf("/v1/test limited too: %d", resp.StatusCode)
	}
}

func TestPresignedMedia(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxFileBytes = 1000; c.MediaURLTTL = time.Second })
	resp, body := ts.do(t, "POST", "/v1/media/input", ts.Key, api.MediaRequest{URL: "media://x.wav"})
	if resp.StatusCode != 201 {
		t.Fatalf("media/input: %d %s", resp.StatusCode, body)
	}
	put := decode[api.MediaURL](t, body).URL
	if resp, _ := ts.do(t, "PUT", put, "", make([]byte, 1001)); resp.StatusCode != 413 {
		t.Fatalf("oversize upload: %d", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "PUT", strings.Replace(put, "sig=", "sig=00", 1), "", []byte("abc")); resp.StatusCode != 403 {
		t.Fatalf("tampered upload: %d", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "PUT", put, "", []byte("abc")); resp.StatusCode/100 != 2 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	_, body = ts.do(t, "POST", "/v1/media/output", ts.Key, api.MediaRequest{URL: "media://x.wav"})
	get := decode[api.MediaURL](t, body).URL
	if resp, b := ts.do(t, "GET", get, "", nil); resp.StatusCode != 200 || string(b) != "abc" {
		t.Fatalf("download: %d %q", resp.StatusCode, b)
	}
	time.Sleep(2100 * time.Millisecond)
	if resp, _ := ts.do(t, "GET", get, "", nil); resp.StatusCode != 403 {
		t.Fatalf("expired download: %d", resp.StatusCode)
	}
}

func TestCancel(t *testing.T) {
	ts := startServer(t, nil)
	u := ts.upload(t, "s.wav", sampleWAV(t))
	// The single worker is busy with the first job; the second waits and is canceled.
	first := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: u})
	second := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: u})
	resp, body := ts.do(t, "DELETE", "/v1/jobs/"+second, ts.Key, nil)
	if resp.StatusCode != 200 || decode[api.Job](t, body).Status != api.StatusCanceled {
		t.Fatalf("cancel: %d %s", resp.StatusCode, body)
	}
	if j := ts.wait(t, first); j.Status != api.StatusSucceeded {
		t.Fatalf("first job %s", j.Status)
	}
	if j := ts.wait(t, second); j.Status != api.StatusCanceled || j.Output != nil {
		t.Fatalf("second job %s %s", j.Status, j.Output)
	}
	if resp, _ := ts.do(t, "DELETE", "/v1/jobs/"+first, ts.Key, nil); resp.StatusCode != 409 {
		t.Fatalf("cancel finished job: %d", resp.StatusCode)
	}
}

// A receiver that fails twice and then succeeds gets three signed deliveries
// with the contract's retry headers.
func TestWebhookRetries(t *testing.T) {
	type hit struct {
		h    http.Header
		body []byte
	}
	var mu sync.Mutex
	var hits []hit
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Header.Clone(), b})
		n := len(hits)
		mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer rcv.Close()
	ts := startServer(t, func(c *Config) {
		c.AllowPrivateURLs = true // the receiver is on loopback
		c.WebhookDelays = []time.Duration{0, 300 * time.Millisecond, 300 * time.Millisecond}
	})
	team, err := ts.store.TeamByName(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	id := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: "media://missing.wav", Webhook: rcv.URL + "/hook"})
	ts.wait(t, id)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(hits)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // no fourth delivery after the success
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 3 {
		t.Fatalf("%d deliveries; want 3", len(hits))
	}
	for i, h := range hits {
		ts, sig := h.h.Get("X-Request-Timestamp"), h.h.Get("X-Signature")
		if !webhook.Verify(team.WebhookSecret, ts, h.body, sig) {
			t.Errorf("delivery %d: bad signature", i)
		}
		var payload map[string]any
		if err := json.Unmarshal(h.body, &payload); err != nil || payload["jobId"] != id || payload["status"] != "failed" || payload["output"] == nil {
			t.Errorf("delivery %d body %s", i, h.body)
		}
		wantNum, wantReason := "", ""
		if i > 0 {
			wantNum, wantReason = fmt.Sprint(i), "http_error"
		}
		if h.h.Get("X-Webhook-Id") != id {
			t.Errorf("delivery %d: X-Webhook-Id %q, want the job id on every attempt", i, h.h.Get("X-Webhook-Id"))
		}
		if h.h.Get("x-retry-num") != wantNum || h.h.Get("x-retry-reason") != wantReason {
			t.Errorf("delivery %d: x-retry-num %q x-retry-reason %q", i, h.h.Get("x-retry-num"), h.h.Get("x-retry-reason"))
		}
	}
}

func TestHealthAndOpenAPI(t *testing.T) {
	ts := startServer(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := ts.do(t, "GET", p, "", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	_, body := ts.do(t, "GET", "/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %v %s", err, doc.OpenAPI)
	}
	// Every route the server answers is documented.
	for _, r := range []string{"GET /v1/test", "POST /v1/diarize", "POST /v1/voiceprint", "POST /v1/identify", "GET /v1/jobs/{jobId}", "DELETE /v1/jobs/{jobId}", "GET /v2/jobs", "POST /v1/media/input", "POST /v1/media/output", "GET /healthz", "GET /readyz", "GET /metrics", "POST /v1/live", "GET /v1/live/{id}", "GET /v1/live/{id}/ws", "GET /v1/realtime"} {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi lacks %s", r)
		}
	}
}

// The janitor drops outputs and media past their retention.
func TestRetention(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.OutputRetention, c.MediaRetention = time.Millisecond, time.Millisecond })
	id := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: "media://absent.wav"})
	if j := ts.wait(t, id); j.Output == nil {
		t.Fatal("failed job without output")
	}
	ts.upload(t, "old.wav", sampleWAV(t))
	time.Sleep(20 * time.Millisecond)
	ts.sweep(t.Context())
	_, body := ts.do(t, "GET", "/v1/jobs/"+id, ts.Key, nil)
	if j := decode[api.Job](t, body); j.Status != api.StatusFailed || j.Output != nil {
		t.Fatalf("after retention: %s", body)
	}
	_, body = ts.do(t, "POST", "/v1/media/output", ts.Key, api.MediaRequest{URL: "media://old.wav"})
	if resp, _ := ts.do(t, "GET", decode[api.MediaURL](t, body).URL, "", nil); resp.StatusCode != 404 {
		t.Fatalf("media after retention: %d", resp.StatusCode)
	}
}

// At shutdown a running job is allowed to finish, and its result is stored.
func TestGracefulShutdownFinishesRunningJob(t *testing.T) {
	ts := startServer(t, nil)
	id := ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: ts.upload(t, "s.wav", sampleWAV(t))})
	for {
		j, err := ts.store.Job(t.Context(), "", id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == api.StatusRunning {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Keep the store open past stop to read the result.
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(ts.cfg.DataDir, "whospoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts.stop()
	j, err := st.Job(t.Context(), "", id)
	if err != nil || j.Status != api.StatusSucceeded {
		t.Fatalf("after shutdown: %s %v", j.Status, err)
	}
}

// transcription: true adds both transcription arrays, words carrying the
// diarization's speakers.
func TestDiarizeWithTranscription(t *testing.T) {
	pipeline(t)
	ts := startServer(t, func(c *Config) {})
	ts.transcriber = transcribe.NewService(modelDir, 2)
	defer ts.transcriber.(*transcribe.Service).Close()
	if resp, body := ts.do(t, "POST", "/v1/diarize", ts.Key, map[string]any{"url": "media://a", "transcription": true, "transcriptionConfig": map[string]string{"model": "large-v9"}}); resp.StatusCode != 400 || !strings.Contains(string(body), "transcriptionConfig.model") {
		t.Fatalf("unknown model: %d %s", resp.StatusCode, body)
	}
	j := ts.wait(t, ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: ts.upload(t, "s.wav", sampleWAV(t)), Transcription: true}))
	if j.Status != api.StatusSucceeded {
		t.Fatalf("job %s: %s", j.Status, j.Output)
	}
	out := decode[api.DiarizeOutput](t, j.Output)
	if len(out.WordLevelTranscription) < 20 || len(out.TurnLevelTranscription) < 2 {
		t.Fatalf("%d words, %d turns", len(out.WordLevelTranscription), len(out.TurnLevelTranscription))
	}
	speakers := map[string]bool{}
	for _, w := range out.WordLevelTranscription {
		speakers[w.Speaker] = true
		if w.Text == "" || w.End < w.Start {
			t.Errorf("word %+v", w)
		}
	}
	if len(speakers) < 2 {
		t.Errorf("words from %d speakers", len(speakers))
	}
}
