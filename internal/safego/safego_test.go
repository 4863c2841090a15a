package safego

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A panic in one goroutine comes back from Wait with its stack; the others
// run to their end.
func TestPanicBecomesError(t *testing.T) {
	var g Group
	var done atomic.Int32
	for i := range 4 {
		g.Go(func() {
			if i == 2 {
				var s []int
				_ = s[i] // index out of range
			}
			done.Add(1)
		})
	}
	err := g.Wait()
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait = %v, want a *PanicError", err)
	}
	if !strings.Contains(pe.Error(), "index out of range") || !strings.Contains(string(pe.Stack), "safego.TestPanicBecomesError") {
		t.Fatalf("panic error %q, stack:\n%s", pe, pe.Stack)
	}
	if done.Load() != 3 {
		t.Fatalf("%d goroutines finished, want 3", done.Load())
	}
}

func TestNoPanicIsNil(t *testing.T) {
	var g Group
	g.Go(func() {})
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait = %v", err)
	}
}
