package livetranscribe

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestSchedulerOrder: with every decoder busy, a freed decoder goes to a
// waiting final before any partial, then to the partial whose session has
// waited longest, whatever order they asked in.
func TestSchedulerOrder(t *testing.T) {
	s := newScheduler(1)
	if err := s.acquire(context.Background(), false, time.Now(), nil, nil); err != nil {
		t.Fatalf("free decoder: %v", err)
	}
	t0 := time.Now()
	got := make(chan string, 3)
	ask := func(name string, final bool, since time.Time) {
		go func() {
			if err := s.acquire(context.Background(), final, since, nil, nil); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			got <- name
		}()
		waitFor(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.waiting) > 0 && s.waiting[len(s.waiting)-1].since.Equal(since)
		})
	}
	ask("late partial", false, t0.Add(2*time.Second))
	ask("early partial", false, t0.Add(time.Second))
	ask("final", true, t0.Add(3*time.Second))
	for _, want := range []string{"final", "early partial", "late partial"} {
		s.release()
		if name := <-got; name != want {
			t.Fatalf("decoder went to %q, want %q", name, want)
		}
	}
	s.release()
	if !s.idle() {
		t.Error("scheduler not idle after every decoder was released")
	}
}

// TestSchedulerLeave: a waiting partial leaves when newer work makes it
// stale or its context ends, and then holds no decoder.
func TestSchedulerLeave(t *testing.T) {
	s := newScheduler(1)
	s.acquire(context.Background(), true, time.Now(), nil, nil)
	wake := make(chan struct{}, 1)
	var stale atomic.Bool
	done := make(chan error)
	go func() {
		err := s.acquire(context.Background(), false, time.Now(), wake, stale.Load)
		done <- err
	}()
	wake <- struct{}{} // not stale yet: keeps waiting
	waitFor(t, func() bool { return len(wake) == 0 })
	select {
	case err := <-done:
		t.Fatalf("left while not stale: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	stale.Store(true)
	wake <- struct{}{}
	if err := <-done; !errors.Is(err, errStale) {
		t.Fatalf("stale partial: err %v, want errStale", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		err := s.acquire(ctx, false, time.Now(), nil, nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled partial: err %v", err)
	}
	s.release()
	if !s.idle() {
		t.Error("a decoder stayed taken or a waiter stayed queued")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
