package livetranscribe

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/whospoke/whospoke/internal/safego"
)

// A panic on a session's worker goroutine (here: an engine copy without
// its Whisper model) ends that session's words and comes back from Close
// as a *safego.PanicError; the process, and every other stream on it,
// lives on, and no goroutine is left behind.
func TestWorkerPanicComesBackFromClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	broken := *testEngine(t)
	broken.asr = nil
	s, err := broken.NewSession(Options{Turns: DefaultTurnDetection(), Partials: true})
	if err != nil {
		t.Fatal(err)
	}
	s.jobs.push(job{kind: jobPartial, samples: make([]float32, SampleRate)})
	for range s.Events() { // closed when the worker ends
	}
	err = s.Close(context.Background())
	var pe *safego.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Close after a worker panic = %v, want a *safego.PanicError", err)
	}
	t.Logf("Close: %v", err)
}
