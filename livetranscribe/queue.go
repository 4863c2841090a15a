package livetranscribe

import (
	"context"
	"slices"
	"sync"

	"github.com/whospoke/whospoke/live"
)

type jobKind int

const (
	jobPartial  jobKind = iota + 1 // decode the open turn so far
	jobFinal                       // decode an ended turn
	jobSpeakers                    // the diarizer decided more
	jobClear                       // forget the open turn
	jobClose                       // the stream ended: finish and exit
)

// job is one piece of work the Push side hands the worker.
type job struct {
	kind  jobKind
	turn  int   // the Push side's turn id
	start int64 // global sample of samples[0]
	// samples of the turn (partial: so far; final: all of it).
	samples    []float32
	probe      bool    // partial made for the end-of-turn decision
	silent     bool    // final: the VAD heard no speech in it
	committed  bool    // final: ended by the client
	confidence float64 // final: end-of-turn confidence
	speakers   []live.Event
	decided    float64
	// revised (jobClose): the diarizer's re-clustered decisions of the
	// whole stream (live.Session.Revise); nil: none.
	revised []live.Event
	// preceding: words decoded before samples[0] in the open turn, heard
	// as part of the prompt.
	preceding []Word
}

// queue hands jobs to the worker in order. Only the newest partial is
// worth decoding, so a new partial or final drops any partial still waiting:
// under load, partials thin out while finals and speaker updates never do.
type queue struct {
	mu    sync.Mutex
	jobs  []job
	ready chan struct{}
	// decoding cancels the partial being decoded: a final or probe that
	// arrives meanwhile should not wait for a hypothesis it makes stale.
	decoding context.CancelFunc
	// probing cancels the probe waiting for a decoder (dropProbe); nil
	// once it has one: at one session a probe never waits, and cancelling
	// one being decoded cost finals latency and digits (BENCHMARKS.md,
	// session 15).
	probing context.CancelFunc
	// waiting: the worker waits in pop with nothing queued (the paced
	// evaluation clock in paced_test.go advances only then or mid-decode).
	waiting bool
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(j job) {
	q.mu.Lock()
	stales := j.kind != jobPartial && j.kind != jobSpeakers || j.probe
	if stales && q.decoding != nil {
		q.decoding()
	}
	if j.kind == jobPartial || j.kind == jobFinal {
		kept := q.jobs[:0]
		for _, old := range q.jobs {
			if old.kind != jobPartial {
				kept = append(kept, old)
			}
		}
		clear(q.jobs[len(kept):])
		q.jobs = kept
	}
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// decodePartial gives a partial's decoding a context that a later final,
// clear or close cancels, and a probe's one that dropProbe cancels; call
// done when the decode returns.
func (q *queue) decodePartial(ctx context.Context, probe bool) (dctx context.Context, done func()) {
	dctx, cancel := context.WithCancel(ctx)
	slot := &q.decoding
	if probe {
		slot = &q.probing
	}
	q.mu.Lock()
	*slot = cancel
	q.mu.Unlock()
	return dctx, func() {
		q.mu.Lock()
		*slot = nil
		q.mu.Unlock()
		cancel()
	}
}

// decoderGranted marks the probe being decoded as past dropProbe's reach.
func (q *queue) decoderGranted() {
	q.mu.Lock()
	q.probing = nil
	q.mu.Unlock()
}

// dropProbe withdraws the probe queued or waiting for a decoder, and
// reports whether there was one: speech resumed before the pause could end
// the turn, so its decode would be wasted (a third of the 30 s decodes at
// eight sessions were such probes; BENCHMARKS.md, session 15).
func (q *queue) dropProbe() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.jobs)
	q.jobs = slices.DeleteFunc(q.jobs, func(j job) bool { return j.probe })
	if q.probing != nil {
		q.probing()
		return true
	}
	return len(q.jobs) < n
}

// superseded reports whether work that makes a waiting partial or probe
// stale is queued: a newer partial, a final, a clear or the close.
func (q *queue) superseded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.ContainsFunc(q.jobs, func(j job) bool { return j.kind != jobSpeakers })
}

// idle reports whether the worker waits for a job and none is queued.
func (q *queue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting && len(q.jobs) == 0
}

// pop waits for the next job, or for ctx.
func (q *queue) pop(ctx context.Context) (job, bool) {
	for {
		q.mu.Lock()
		q.waiting = len(q.jobs) == 0
		if len(q.jobs) > 0 {
			j := q.jobs[0]
			q.jobs[0] = job{}
			q.jobs = q.jobs[1:]
			q.mu.Unlock()
			return j, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return job{}, false
		}
	}
}
