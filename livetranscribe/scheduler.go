package livetranscribe

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// errStale: newer work for the session made a waiting decode pointless.
var errStale = errors.New("livetranscribe: decode superseded")

// scheduler shares the engine's Whisper decoders between sessions. Finals
// go first, in the order they came; then partials (probes included), the session that has
// waited longest first. So under load every session's partials thin out
// alike, where a partial that found no free decoder used to be dropped and
// the sessions that happened to ask when one was free took them all (at 8
// sessions a word's first partial came 8.8 s late at p95; BENCHMARKS.md,
// Live transcription).
type scheduler struct {
	mu       sync.Mutex
	decoders int
	free     int
	waiting  []*waiter
}

// waiter is one decode waiting for a decoder.
type waiter struct {
	final bool
	since time.Time
	grant chan struct{} // closed when the decoder is handed over
}

func newScheduler(decoders int) *scheduler {
	return &scheduler{decoders: decoders, free: decoders}
}

// idle reports whether no decode runs or waits.
func (s *scheduler) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.free == s.decoders && len(s.waiting) == 0
}

// before orders waiters: finals first, then the longest waiting.
func (a *waiter) before(b *waiter) bool {
	if a.final != b.final {
		return a.final
	}
	return a.since.Before(b.since)
}

// acquire waits for a decoder, for ctx, or, each time wake is readable,
// until stale reports that the decode is no longer wanted (errStale). On
// success the caller must release the decoder.
func (s *scheduler) acquire(ctx context.Context, final bool, since time.Time, wake <-chan struct{}, stale func() bool) error {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	w := &waiter{final: final, since: since, grant: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	for {
		select {
		case <-w.grant:
			return nil
		case <-ctx.Done():
			return s.leave(w, ctx.Err())
		case <-wake:
			if stale() {
				return s.leave(w, errStale)
			}
		}
	}
}

// leave withdraws w; a decoder granted to it meanwhile goes to the next.
func (s *scheduler) leave(w *waiter, err error) error {
	s.mu.Lock()
	i := slices.Index(s.waiting, w)
	if i >= 0 {
		s.waiting = slices.Delete(s.waiting, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		s.release()
	}
	return err
}

// release hands the decoder to the first waiter, or frees it.
func (s *scheduler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == 0 {
		s.free++
		return
	}
	next := 0
	for i, w := range s.waiting {
		if w.before(s.waiting[next]) {
			next = i
		}
	}
	w := s.waiting[next]
	s.waiting = slices.Delete(s.waiting, next, next+1)
	close(w.grant)
}
