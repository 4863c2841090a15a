package live

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/models"
	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// session or batcher waiter that never returned).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	modelsOnce sync.Once
	shared     Models
	modelsErr  error
)

// testModels loads the real models once: the installed ones, else the
// shared folder (same layout).
func testModels(t testing.TB) Models {
	t.Helper()
	modelsOnce.Do(func() {
		shared, modelsErr = LoadModels(testenv.ModelsDir("embedding"), 1)
	})
	if modelsErr != nil {
		t.Skipf("models not installed (run `make setup`): %v", modelsErr)
	}
	return shared
}

func testEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg, testModels(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// loadSamples reads a whole file (the sample conversation by default).
func loadSamples(t testing.TB, path string) []float32 {
	t.Helper()
	a, err := audio.Open(context.Background(), path, audio.DefaultOptions())
	if err != nil {
		t.Skipf("audio: %v", err)
	}
	defer a.Close()
	s, err := a.Samples(0, a.Len())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func samplePath() string {
	p := models.ResolveDir("") + "/test-audio/pyannote-sample/sample.wav"
	if _, err := os.Stat(p); err != nil {
		return "../../shared/models/test-audio/pyannote-sample/sample.wav"
	}
	return p
}

// push streams samples into s in frames of the given size; with check, the
// events so far must stay consistent after every frame.
func push(t testing.TB, s *Session, samples []float32, frame int, check bool) []Event {
	t.Helper()
	var events []Event
	for off := 0; off < len(samples); off += frame {
		ev, err := s.Push(context.Background(), samples[off:min(off+frame, len(samples))])
		if err != nil {
			t.Fatal(err)
		}
		if check {
			if err := CheckEvents(append(append([]Event(nil), events...), ev...), s.Duration(), false); err != nil {
				t.Fatalf("after %d samples: %v", off+frame, err)
			}
		}
		events = append(events, ev...)
	}
	return events
}

// testPhase is the chunk phase of the sessions whose events tests compare
// with each other's (an engine's sessions otherwise take phases in turn);
// not 0, so that the shifted grid is what they check.
const testPhase = 1

// run streams samples in frames of the given size, checking as it goes, and flushes.
func run(t testing.TB, e *Engine, samples []float32, frame int) []Event {
	t.Helper()
	s := e.NewSession(WithChunkPhase(testPhase))
	events := append(push(t, s, samples, frame, true), s.Flush(context.Background())...)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}
