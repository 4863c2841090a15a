package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/miniotest"
	"github.com/whospoke/whospoke/internal/pgtest"
	"github.com/whospoke/whospoke/store"
)

// Two nodes share a real NATS server, a real PostgreSQL and a real S3 server
// (MinIO). A file uploaded through node A's pre-signed URL is served by
// node B's pre-signed GET URL, and media:// jobs submitted to either node
// succeed, whichever node runs them.
func TestScaleOutSharedS3Media(t *testing.T) {
	start := time.Now()
	wav, err := os.ReadFile(sampleWAV(t))
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.Start(t)
	s3 := miniotest.Start(t)
	nats := natsServer(t)

	env := []string{"WHOSPOKE_POSTGRES=" + dsn, "WHOSPOKE_NATS=" + nats, "WHOSPOKE_MEDIA_SECRET=shared-secret-0123456789"}
	common := []string{"--s3", s3, "--workers", "1", "--threads", "1", "--submit-limit", "-1", "--poll-limit", "-1"}
	key := createKey(t, env, "--data", t.TempDir())
	a := serve(t, env, append([]string{"--data", t.TempDir(), "--node", "node-a"}, common...)...)
	b := serve(t, env, append([]string{"--data", t.TempDir(), "--node", "node-b"}, common...)...)
	t.Logf("services and nodes up after %v", time.Since(start).Round(time.Millisecond))
	logs := func() string { return "\nA:\n" + a.Logs() + "\nB:\n" + b.Logs() }

	// Upload through node A: the pre-signed PUT URL is served by A itself.
	const media = "media://e2e/shared/sample.wav"
	put := presign(t, a, key, "input", media)
	if !strings.HasPrefix(put, a.URL+"/media/") {
		t.Fatalf("input URL %s not served by node A (%s)", put, a.URL)
	}
	req, _ := http.NewRequest(http.MethodPut, put, bytes.NewReader(wav))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to node A: %d%s", resp.StatusCode, logs())
	}

	// Node B, with a data folder of its own, serves the same bytes.
	get := presign(t, b, key, "output", media)
	if !strings.HasPrefix(get, b.URL+"/media/") {
		t.Fatalf("output URL %s not served by node B (%s)", get, b.URL)
	}
	resp, err = http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, wav) {
		t.Fatalf("GET from node B: %d, %d bytes (uploaded %d)%s", resp.StatusCode, len(got), len(wav), logs())
	}

	// One job submitted to each node, back to back: each node's single
	// worker is idle and waiting, so they run on different nodes.
	submitted := map[string]*node{} // job ID → node it was submitted to
	for _, n := range []*node{b, a} {
		var jc api.JobCreated
		if code := call(t, n, key, http.MethodPost, "/v1/diarize", api.DiarizeRequest{URL: media}, &jc); code != http.StatusOK {
			t.Fatalf("submit to %s: %d%s", n.URL, code, logs())
		}
		submitted[jc.JobID] = n
	}

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ran := map[string]bool{} // node names that ran a job
	deadline := time.Now().Add(2 * time.Minute)
	for id, n := range submitted {
		// Poll on the other node: the job is visible everywhere.
		other := a
		if n == a {
			other = b
		}
		for {
			var j api.Job
			if code := call(t, other, key, http.MethodGet, "/v1/jobs/"+id, nil, &j); code != http.StatusOK {
				t.Fatalf("GET job %s: %d", id, code)
			}
			if api.Terminal(j.Status) {
				if j.Status != api.StatusSucceeded {
					t.Fatalf("job %s %s: %s%s", id, j.Status, j.Output, logs())
				}
				var out api.DiarizeOutput
				if err := json.Unmarshal(j.Output, &out); err != nil {
					t.Fatalf("job %s output: %v", id, err)
				}
				if len(out.Diarization) == 0 {
					t.Fatalf("job %s: empty diarization: %s", id, j.Output)
				}
				row, err := st.Job(context.Background(), "", id)
				if err != nil {
					t.Fatal(err)
				}
				ran[row.Worker] = true
				t.Logf("job %s submitted to %s, ran on %s: %d turns", id, n.URL, row.Worker, len(out.Diarization))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s stuck in %s%s", id, j.Status, logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Node B never received the upload, so a job it ran read the file from S3.
	if !ran["node-a"] || !ran["node-b"] {
		t.Errorf("jobs ran on %v, want both node-a and node-b", ran)
	}
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// presign asks n for a pre-signed URL of media (kind "input": PUT, "output": GET).
func presign(t *testing.T, n *node, key, kind, media string) string {
	t.Helper()
	var mu api.MediaURL
	if code := call(t, n, key, http.MethodPost, "/v1/media/"+kind, api.MediaRequest{URL: media}, &mu); code != http.StatusCreated {
		t.Fatalf("POST /v1/media/%s on %s: %d", kind, n.URL, code)
	}
	return mu.URL
}

// call sends body (if not nil) as JSON to n's path with the API key, decodes
// the answer into out and returns the status code.
func call(t *testing.T, n *node, key, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}
