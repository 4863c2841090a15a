package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/pgtest"
	"github.com/whospoke/whospoke/store"
)

// A job that takes down whichever node runs it (here: the test kills that
// node with SIGKILL each time, as a crashing input would) is failed with the
// reason after its three attempts, instead of being retried forever; both
// nodes are up at the end.
func TestPoisonJobFailsAfterAttempts(t *testing.T) {
	dsn := pgtest.Start(t)
	input := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, sampleWAV(t))
	}))
	defer input.Close()
	env := []string{"WHOSPOKE_POSTGRES=" + dsn, "WHOSPOKE_NATS=" + natsServer(t), "WHOSPOKE_MEDIA_SECRET=shared-secret-0123456789"}
	common := []string{"--workers", "1", "--threads", "1", "--ack-wait", "2s", "--max-attempts", "3", "--allow-private-urls"}
	key := createKey(t, env, "--data", t.TempDir())
	args := map[string][]string{}
	nodes := map[string]*node{}
	for _, name := range []string{"node-a", "node-b"} {
		args[name] = append([]string{"--data", t.TempDir(), "--node", name}, common...)
		nodes[name] = serve(t, env, args[name]...)
	}

	body, _ := json.Marshal(api.DiarizeRequest{URL: input.URL + "/sample.wav"})
	req, _ := http.NewRequest("POST", nodes["node-a"].URL+"/v1/diarize", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var jc api.JobCreated
	_ = json.NewDecoder(resp.Body).Decode(&jc)
	resp.Body.Close()

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kills := 0
	var j store.Job
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if j, err = st.Job(context.Background(), "", jc.JobID); err != nil {
			t.Fatal(err)
		}
		if api.Terminal(j.Status) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after %d kills (attempts %d)", j.Status, kills, j.Attempts)
		}
		if j.Status == api.StatusRunning && j.Attempts > kills && kills < 3 {
			nodes[j.Worker].kill() // the input "crashes" its node
			kills++
			nodes[j.Worker] = serve(t, env, args[j.Worker]...)
		}
	}
	var out api.ErrorOutput
	_ = json.Unmarshal(j.Output, &out)
	if j.Status != api.StatusFailed || !strings.Contains(out.Error, "stopped unexpectedly 3 times") {
		t.Fatalf("after %d kills: %s %s", kills, j.Status, j.Output)
	}
	for name, n := range nodes {
		if resp, err := http.Get(n.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s down after the poison job: %v", name, err)
		} else {
			resp.Body.Close()
		}
	}
}
