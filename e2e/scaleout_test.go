package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/pgtest"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/store"
)

// Two nodes share a real NATS server and a real PostgreSQL. Twenty jobs go
// to node A; node B is killed (SIGKILL) in the middle of a job; that job
// completes on node A, and every job succeeds exactly once.
func TestScaleOutSurvivesKilledNode(t *testing.T) {
	dev := testenv.DevSet(t)
	dsn := pgtest.Start(t)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}

	// Inputs come over http; webhooks count how often each job is reported.
	audio := http.FileServer(http.Dir(dev + "/speakers/ls_1688"))
	var mu sync.Mutex
	hooks := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var p api.Job
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &p)
			mu.Lock()
			hooks[p.JobID+" "+p.Status]++
			mu.Unlock()
			return
		}
		audio.ServeHTTP(w, r)
	}))
	defer srv.Close()

	env := []string{"WHOSPOKE_POSTGRES=" + dsn, "WHOSPOKE_NATS=" + ns.ClientURL(), "WHOSPOKE_MEDIA_SECRET=shared-secret-0123456789"}
	common := []string{"--workers", "1", "--threads", "1", "--ack-wait", "4s", "--allow-private-urls", "--submit-limit", "-1", "--poll-limit", "-1"}
	key := createKey(t, env, "--data", t.TempDir())
	a := serve(t, env, append([]string{"--data", t.TempDir(), "--node", "node-a"}, common...)...)
	b := serve(t, env, append([]string{"--data", t.TempDir(), "--node", "node-b"}, common...)...)

	var ids []string
	for range 20 {
		body, _ := json.Marshal(api.DiarizeRequest{URL: srv.URL + "/1688-142285-0000.wav", Webhook: srv.URL + "/hook"})
		req, _ := http.NewRequest("POST", a.URL+"/v1/diarize", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var jc api.JobCreated
		_ = json.NewDecoder(resp.Body).Decode(&jc)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("submit: %d", resp.StatusCode)
		}
		ids = append(ids, jc.JobID)
	}

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()

	// Kill node B while it runs a job.
	var victim string
	deadline := time.Now().Add(2 * time.Minute)
	for victim == "" && time.Now().Before(deadline) {
		for _, id := range ids {
			if j, err := st.Job(ctx, "", id); err == nil && j.Status == api.StatusRunning && j.Worker == "node-b" {
				victim = id
				break
			}
		}
		if victim == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if victim == "" {
		t.Fatalf("node B never ran a job\nA:\n%s\nB:\n%s", a.Logs(), b.Logs())
	}
	b.kill()

	deadline = time.Now().Add(4 * time.Minute)
	for _, id := range ids {
		for {
			j, err := st.Job(ctx, "", id)
			if err != nil {
				t.Fatal(err)
			}
			if api.Terminal(j.Status) {
				if j.Status != api.StatusSucceeded {
					t.Fatalf("job %s %s: %s", id, j.Status, j.Output)
				}
				if id == victim && (j.Worker != "node-a" || j.Attempts < 2) {
					t.Errorf("killed job finished by %s after %d attempts", j.Worker, j.Attempts)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s stuck in %s\nA:\n%s", id, j.Status, a.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Every job reported once: nothing lost, nothing duplicated.
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if n := hooks[id+" succeeded"]; n != 1 {
			t.Errorf("job %s: %d succeeded webhooks", id, n)
		}
	}
	if len(hooks) != len(ids) {
		t.Errorf("%d distinct webhook reports for %d jobs: %v", len(hooks), len(ids), hooks)
	}
}
