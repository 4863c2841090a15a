package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/api/validate"
	"github.com/whospoke/whospoke/media"
)

// The small cases a hostile probe found: method, auth scheme, body size,
// echoed ids, media keys the stores accept.
func TestProtocolEdges(t *testing.T) {
	ts := startServer(t, nil)

	resp, body := ts.do(t, "PUT", "/v1/diarize", ts.Key, []byte(`{}`))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("PUT /v1/diarize: %d Allow=%q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
	if resp, _ := ts.do(t, "POST", "/v1/jobs/x", ts.Key, []byte(`{}`)); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, DELETE" {
		t.Errorf("POST /v1/jobs/x: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp, _ := ts.do(t, "GET", "/v1/nothing", ts.Key, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}

	req, _ := http.NewRequest("GET", ts.URL+"/v1/test", nil)
	req.Header.Set("Authorization", "bearer "+ts.Key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("lower-case bearer: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	big := append([]byte(`{"url":"media://a","x":"`), bytes.Repeat([]byte("a"), validate.MaxBody)...)
	big = append(big, `"}`...)
	if resp, body := ts.do(t, "POST", "/v1/diarize", ts.Key, big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s", resp.StatusCode, body)
	}

	long := strings.Repeat("z", 10000)
	if resp, body := ts.do(t, "GET", "/v1/jobs/"+long, ts.Key, nil); resp.StatusCode != 404 || len(body) > 500 {
		t.Errorf("long job id: %d, %d-byte answer", resp.StatusCode, len(body))
	}

	// "..." is a name, not a parent: the stores accept it, so the API does.
	data := []byte("RIFF-not-really")
	url := ts.uploadBytes(t, "a/.../b", data)
	_, body = ts.do(t, "POST", "/v1/media/output", ts.Key, api.MediaRequest{URL: url})
	if resp, got := ts.do(t, "GET", decode[api.MediaURL](t, body).URL, "", nil); resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("download of a/.../b: %d %q", resp.StatusCode, got)
	}
}

// copiedMedia is a media store whose objects are not local files (as on
// S3): jobs copy their input from it, up to the file limit.
type copiedMedia struct{ media.Store }

// Media over the file limit (stored before the limit was lowered, or by a
// node with another one) fails its job with the reason; it is not cut short
// and diarized in part.
func TestOversizeMediaRefusedNotTruncated(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxFileBytes = 1000 }, func(s *Server) { s.media = copiedMedia{s.media} })
	team, err := ts.store.TeamByName(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.media.Put(t.Context(), team.ID, "big.wav", bytes.NewReader(make([]byte, 2000)), 0); err != nil {
		t.Fatal(err)
	}
	j := ts.wait(t, ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: "media://big.wav"}))
	if msg := decode[api.ErrorOutput](t, j.Output).Error; j.Status != api.StatusFailed || !strings.Contains(msg, "larger than 1000 bytes") {
		t.Fatalf("oversize media: %s %s", j.Status, j.Output)
	}
}

// uploadBytes puts data at media://key through a pre-signed URL.
func (ts *testServer) uploadBytes(t testing.TB, key string, data []byte) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/v1/media/input", ts.Key, api.MediaRequest{URL: "media://" + key})
	if resp.StatusCode != 201 {
		t.Fatalf("media/input %s: %d %s", key, resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "PUT", decode[api.MediaURL](t, body).URL, "", data); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %d %s", key, resp.StatusCode, body)
	}
	return "media://" + key
}

// Metrics name routes and codes, never what a request carried: after
// requests with the real key, a wrong key, a webhook URL with credentials
// and an unknown job id, /metrics holds none of them nor the media secret.
func TestMetricsHoldNoSecrets(t *testing.T) {
	ts := startServer(t, nil)
	const wrongKey, hookSecret, jobID = "sk-wrong-0123456789", "hunter2-webhook", "job-0123456789-secret"
	ts.do(t, "GET", "/v1/jobs/"+jobID, ts.Key, nil)
	ts.do(t, "GET", "/v1/jobs/"+jobID, wrongKey, nil)
	ts.do(t, "POST", "/v1/diarize", ts.Key, map[string]any{"url": "media://x.wav", "webhook": "https://user:" + hookSecret + "@example.com/h"})
	resp, body := ts.do(t, "GET", "/metrics", "", nil)
	// The job route is counted, under its pattern.
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("/v1/jobs/{")) {
		t.Fatalf("/metrics: %d %.200s", resp.StatusCode, body)
	}
	for _, secret := range []string{ts.Key, wrongKey, hookSecret, jobID, "0123456789abcdef0123"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
}
