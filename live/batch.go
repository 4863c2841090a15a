package live

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// batcher merges the model calls of concurrent sessions: a call that finds
// fewer than maxRunning batches in flight runs at once, taking with it every
// call queued meanwhile (up to maxBatch); otherwise it waits to be taken by
// the next batch. One stream alone therefore never waits, and many streams
// share each model call, which costs less per input than calls of one
// (docs/STREAMING_BENCH.md).
type batcher[In, Out any] struct {
	run        func([]In) ([]Out, error)
	maxBatch   int
	maxRunning int

	mu      sync.Mutex
	pending []*call[In, Out]
	running int
}

type call[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

func newBatcher[In, Out any](maxBatch, maxRunning int, run func([]In) ([]Out, error)) *batcher[In, Out] {
	return &batcher[In, Out]{run: run, maxBatch: max(1, maxBatch), maxRunning: max(1, maxRunning)}
}

// do runs one input, batched with whatever else is waiting. A caller whose
// ctx ends while its input waits in the queue leaves with ctx's error; one
// that runs batches finishes the batch in progress (a model call cannot be
// stopped halfway, and other callers' inputs are in it).
func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	c := &call[In, Out]{in: in, done: make(chan struct{})}
	if err := ctx.Err(); err != nil {
		return c.out, err
	}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.running >= b.maxRunning {
		b.mu.Unlock()
		return b.wait(ctx, c)
	}
	b.running++
	// Run batches until the queue is empty: our own call is in the first.
	for len(b.pending) > 0 {
		n := min(len(b.pending), b.maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.runBatch(batch)
		b.mu.Lock()
		select {
		case <-c.done:
			// Ours is done; leave the rest to the other runners or to
			// the callers that arrive next, so our stream is not held up.
			if b.running > 1 || len(b.pending) == 0 {
				b.running--
				b.mu.Unlock()
				return c.out, c.err
			}
		default:
		}
	}
	b.running--
	b.mu.Unlock()
	// Another runner may have taken our call and still be running it.
	return b.wait(ctx, c)
}

// wait waits for a queued call to be run, or for ctx to end; a call still
// queued then leaves the queue.
func (b *batcher[In, Out]) wait(ctx context.Context, c *call[In, Out]) (Out, error) {
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.pending, c); i >= 0 {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
	var zero Out
	return zero, ctx.Err()
}

func (b *batcher[In, Out]) runBatch(batch []*call[In, Out]) {
	ins := make([]In, len(batch))
	for i, c := range batch {
		ins[i] = c.in
	}
	outs, err := b.runSafe(ins)
	if err == nil && len(outs) != len(ins) {
		err = fmt.Errorf("live: model call returned %d results for %d inputs", len(outs), len(ins))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.out = outs[i]
		}
		close(c.done)
	}
}

// runSafe turns a panic in a model call into every caller's error: the
// batch's other streams are waiting on it and must not hang, and the
// process must not die with all its streams.
func (b *batcher[In, Out]) runSafe(ins []In) (outs []Out, err error) {
	defer func() {
		if v := recover(); v != nil {
			outs, err = nil, fmt.Errorf("live: model call failed: %v", v)
		}
	}()
	return b.run(ins)
}
