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
// as a *safego.PanicError, and Push and EndTurn say ErrFailed meanwhile
// (the adapters then tell their client, server/aaiconn.go engineFailed);
// the process, and every other stream on it, lives on, and no goroutine is
// left behind.
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
	if err := s.Push(context.Background(), make([]float32, 1600)); !errors.Is(err, ErrFailed) {
		t.Errorf("Push after the worker died = %v, want ErrFailed", err)
	}
	if err := s.EndTurn(context.Background()); !errors.Is(err, ErrFailed) {
		t.Errorf("EndTurn after the worker died = %v, want ErrFailed", err)
	}
	err = s.Close(context.Background())
	var pe *safego.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Close after a worker panic = %v, want a *safego.PanicError", err)
	}
	t.Logf("Close: %v", err)
}
