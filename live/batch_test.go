package live

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whospoke/whospoke/segmentation"
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
	if got, err := b.do(context.Background(), 21); got != 42 || err != nil {
		t.Fatalf("lone call: %d %v", got, err)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 5 {
				x := 100*i + j
				if got, err := b.do(context.Background(), x); got != 2*x || err != nil {
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
	if _, err := fail.do(context.Background(), 1); !errors.Is(err, boom) {
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
			if _, err := b.do(context.Background(), i); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 8 {
		t.Fatalf("%d of 8 calls failed during the panic", failed.Load())
	}
	poison.Store(false)
	if got, err := b.do(context.Background(), 7); got != 7 || err != nil {
		t.Fatalf("after the panic: %d %v", got, err)
	}
}

// A panic inside a session (here: one never set up by an engine) comes back
// as the session's error and closes it, instead of killing the process.
func TestSessionPanicBecomesError(t *testing.T) {
	var s Session
	if _, err := s.Push(context.Background(), make([]float32, 1600)); err == nil {
		t.Fatal("Push on a broken session succeeded")
	}
	if _, err := s.Push(context.Background(), make([]float32, 1600)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after the failure: %v, want ErrClosed", err)
	}
}

// A panic inside a batched model call fails every session whose step was
// in the batch, with an error, instead of leaving them waiting; the
// sessions are then closed.
func TestSessionsFailOnPanickingBatch(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	e.seg = newBatcher(8, 1, func([][]float32) ([]segmentation.Chunk, error) {
		time.Sleep(5 * time.Millisecond) // let the other sessions' steps join the batch
		panic("bad tensor shape")
	})
	const n = 4
	errs := make(chan error, n)
	speech := sampleHead(t)[10*SampleRate : 11*SampleRate] // not silence, which is not segmented
	for range n {
		go func() {
			_, err := e.NewSession().Push(context.Background(), speech)
			errs <- err
		}()
	}
	for range n {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "bad tensor shape") {
				t.Errorf("Push during a panicking batch: %v, want the panic as an error", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a session is still waiting on the panicked batch")
		}
	}
}

// A call waiting in the queue leaves it when its context ends; the batch
// in progress completes for the others, and nothing is left behind.
func TestBatcherWaitCancelled(t *testing.T) {
	release := make(chan struct{})
	b := newBatcher(4, 1, func(in []int) ([]int, error) {
		<-release
		return in, nil
	})
	first := make(chan error, 1)
	go func() {
		_, err := b.do(context.Background(), 1)
		first <- err
	}()
	for { // wait until the first call runs
		b.mu.Lock()
		running := b.running
		b.mu.Unlock()
		if running == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := b.do(ctx, 2)
		queued <- err
	}()
	for { // wait until the second call is queued
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued call: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("running call: %v", err)
	}
	if b.running != 0 || len(b.pending) != 0 {
		t.Errorf("left running %d, pending %d", b.running, len(b.pending))
	}
	if _, err := b.do(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("call with an ended context: %v", err)
	}
}
