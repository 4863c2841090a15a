package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/livetranscribe"
	"github.com/whospoke/whospoke/media"
	"github.com/whospoke/whospoke/queue"
	"github.com/whospoke/whospoke/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The ONNX Runtime and the shared pipeline live for the whole process.
		goleak.IgnoreTopFunction("github.com/yalue/onnxruntime_go.(*DynamicAdvancedSession).Run"),
	)
}

var (
	pipeOnce sync.Once
	pipe     *diarize.Pipeline
	pipeErr  error
	modelDir string
)

// pipeline loads the real models once for the package's tests.
func pipeline(t testing.TB) *diarize.Pipeline {
	t.Helper()
	pipeOnce.Do(func() {
		modelDir = testenv.ModelsDir("embedding")
		pipe, pipeErr = diarize.New(diarize.DefaultConfig(modelDir).WithThreads(2))
	})
	if pipeErr != nil {
		t.Fatalf("loading models (run `make setup`): %v", pipeErr)
	}
	return pipe
}

var (
	liveOnce sync.Once
	liveEng  *live.Engine
	liveErr  error
)

// liveEngine loads the live models (one thread per call) once.
func liveEngine(t testing.TB) *live.Engine {
	t.Helper()
	pipeline(t)
	liveOnce.Do(func() {
		m, err := live.LoadModels(modelDir, 1)
		if err != nil {
			liveErr = err
			return
		}
		liveEng, liveErr = live.New(live.DefaultConfig(), m)
	})
	if liveErr != nil {
		t.Fatalf("loading live models: %v", liveErr)
	}
	return liveEng
}

// sampleWAV is the 30 s two-speaker sample installed with the models.
func sampleWAV(t testing.TB) string {
	pipeline(t)
	p := filepath.Join(modelDir, "test-audio", "pyannote-sample", "sample.wav")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sample audio missing (run `make setup`): %v", err)
	}
	return p
}

// testServer is a real server on loopback: SQLite file, embedded NATS, media folder, real models.
type testServer struct {
	*Server
	URL   string
	Key   string // all permissions, team "acme"
	store store.Store
	stop  func()
}

// startServer starts a test server; each of prepare changes it before it serves.
func startServer(t *testing.T, tune func(*Config), prepare ...func(*Server)) *testServer {
	return startServerB(t, tune, prepare...)
}

func startServerB(t testing.TB, tune func(*Config), prepare ...func(*Server)) *testServer {
	t.Helper()
	return startServerText(t, tune, nil, prepare...)
}

var (
	textOnce sync.Once
	textEng  *livetranscribe.Engine
	textErr  error
)

// liveText loads the live transcriber (on the live engine) once.
func liveText(t testing.TB) *livetranscribe.Engine {
	t.Helper()
	live := liveEngine(t)
	textOnce.Do(func() {
		textEng, textErr = livetranscribe.New(livetranscribe.Config{ModelsDir: modelDir, Threads: 1, Live: live})
	})
	if textErr != nil {
		t.Fatalf("loading the live transcriber (run `make setup`): %v", textErr)
	}
	return textEng
}

// startServerText is startServer with live transcription by text (nil: none).
func startServerText(t testing.TB, tune func(*Config), text *livetranscribe.Engine, prepare ...func(*Server)) *testServer {
	t.Helper()
	p := pipeline(t)
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "whospoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(ctx, queue.Config{DataDir: dir, AckWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := media.NewDir(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(testLog(), nil)), Workers: 1, WebhookPoll: 50 * time.Millisecond,
		// wait polls every 100 ms, beyond the default 300/min.
		PollPerMinute: -1}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := New(cfg, Deps{Store: st, Queue: q, Media: ms, MediaSecret: []byte("0123456789abcdef0123"), Pipeline: p, Live: liveEngine(t), LiveTranscriber: text})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prepare {
		p(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, l) }()
	key, _, err := CreateKey(ctx, st, "acme", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, URL: "http://" + l.Addr().String(), Key: key, store: st}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			q.Close()
			st.Close()
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// do sends a request with key (none when ""), JSON-encoding body unless it is []byte.
func (ts *testServer) do(t testing.TB, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	url := path
	if path[0] == '/' {
		url = ts.URL + path
	}
	req, _ := http.NewRequest(method, url, r)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// upload puts a local file at media://key and returns the URL.
func (ts *testServer) upload(t testing.TB, key, path string) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/v1/media/input", ts.Key, api.MediaRequest{URL: "media://" + key})
	if resp.StatusCode != 201 {
		t.Fatalf("media/input: %d %s", resp.StatusCode, body)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "PUT", decode[api.MediaURL](t, body).URL, "", data)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	return "media://" + key
}

// submit creates a job and returns its ID.
func (ts *testServer) submit(t testing.TB, path string, req any) string {
	t.Helper()
	resp, body := ts.do(t, "POST", path, ts.Key, req)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	jc := decode[api.JobCreated](t, body)
	if jc.Status != api.StatusCreated || jc.JobID == "" {
		t.Fatalf("%s answered %s", path, body)
	}
	return jc.JobID
}

// wait polls a job until it is terminal.
func (ts *testServer) wait(t testing.TB, id string) api.Job {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		resp, body := ts.do(t, "GET", "/v1/jobs/"+id, ts.Key, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("get job: %d %s", resp.StatusCode, body)
		}
		j := decode[api.Job](t, body)
		if api.Terminal(j.Status) {
			return j
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return api.Job{}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testLog is where test servers log: nowhere, unless WHOSPOKE_TEST_LOG=1.
func testLog() io.Writer {
	if os.Getenv("WHOSPOKE_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
