package stream

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent calls get their own results, in batches no larger than allowed
// and with no more batches in flight than allowed; a lone call runs at once.
func TestBatcher(t *testing.T) {
	var running, peak, calls, batched atomic.Int64
	b := newBatcher(4, 2, func(in []int) ([]int, error) {
		calls.Add(1)
		if len(in) > 4 {
			t.Errorf("batch of %d", len(in))
		}
		if len(in) > 1 {
			batched.Add(1)
		}
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Uneven durations, so that one runner's call is often taken and
		// still running in another's batch when its own queue drains.
		time.Sleep(time.Duration(1+in[0]%5) * time.Millisecond)
		running.Add(-1)
		out := make([]int, len(in))
		for i, x := range in {
			out[i] = 2 * x
		}
		return out, nil
	})
	if got, err := b.do(21); got != 42 || err != nil {
		t.Fatalf("lone call: %d %v", got, err)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 5 {
				x := 100*i + j
				if got, err := b.do(x); got != 2*x || err != nil {
					t.Errorf("do(%d) = %d, %v", x, got, err)
				}
			}
		})
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Errorf("%d batches ran at once, want ≤ 2", peak.Load())
	}
	if batched.Load() == 0 || calls.Load() >= 64*5 {
		t.Errorf("%d calls for 320 inputs, %d batched: nothing was merged", calls.Load(), batched.Load())
	}
	if b.running != 0 || len(b.pending) != 0 {
		t.Errorf("left running %d, pending %d", b.running, len(b.pending))
	}
	boom := errors.New("boom")
	fail := newBatcher(4, 1, func(in []int) ([]int, error) { return nil, boom })
	if _, err := fail.do(1); !errors.Is(err, boom) {
		t.Fatalf("error: %v", err)
	}
}

// A model call that panics fails every call of its batch, which would
// otherwise wait forever; the next calls run normally.
func TestBatcherPanicFailsBatch(t *testing.T) {
	var poison atomic.Bool
	poison.Store(true)
	b := newBatcher(8, 1, func(in []int) ([]int, error) {
		time.Sleep(5 * time.Millisecond) // let concurrent calls join the batch
		if poison.Load() {
			panic("bad tensor shape")
		}
		return in, nil
	})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			if _, err := b.do(i); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 8 {
		t.Fatalf("%d of 8 calls failed during the panic", failed.Load())
	}
	poison.Store(false)
	if got, err := b.do(7); got != 7 || err != nil {
		t.Fatalf("after the panic: %d %v", got, err)
	}
}

// A panic inside a session (here: one never set up by an engine) comes back
// as the session's error and closes it, instead of killing the process.
func TestSessionPanicBecomesError(t *testing.T) {
	var s Session
	if _, err := s.Push(make([]float32, 1600)); err == nil {
		t.Fatal("Push on a broken session succeeded")
	}
	if _, err := s.Push(make([]float32, 1600)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after the failure: %v, want ErrClosed", err)
	}
}
