package whisper

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/whospoke/whospoke/internal/safego"
)

// A panic on one of the front end's worker goroutines (here: the sample
// reader, on the second half's worker) fails the call with a
// *safego.PanicError carrying the stack, instead of killing the process and
// every job and stream on it; no goroutine is left behind.
func TestMelWorkerPanicIsError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fe, err := NewFrontEnd(modelDir("whisper-tiny.en"))
	if err != nil {
		t.Fatal(err)
	}
	half := WindowFrames / 2 * HopLength
	at := func(i int) float32 {
		if i > half {
			var x []float32
			return x[i] // index out of range
		}
		return 0
	}
	frames, err := fe.filters.logFrames(at, 0, WindowFrames)
	var pe *safego.PanicError
	if !errors.As(err, &pe) || frames != nil {
		t.Fatalf("logFrames = %d frames, %v; want a *safego.PanicError", len(frames), err)
	}
	if !strings.Contains(pe.Error(), "index out of range") || !strings.Contains(string(pe.Stack), "whisper.TestMelWorkerPanicIsError") {
		t.Fatalf("panic error %q, stack:\n%s", pe, pe.Stack)
	}
}
