package livetranscribe

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/whisper"
	"go.uber.org/goleak"
)

// pacedClock is the evaluation's paced virtual clock
// (WHOSPOKE_LIVE_EVAL=paced): audio is pushed on it a 100 ms frame at a
// time, and each Whisper call lasts on it the CPU time its thread spent
// (times scale). Meanwhile the frames due before the call would have ended
// are pushed: they queue work, replace waiting partials and cancel the one
// being decoded, as at real time. So one session sees the same decodes as
// on an idle machine whose cores run at this one's speed per thread, and
// the result no longer depends on other jobs' load beyond the jitter of
// CPU time. Scale 0 is the virtual clock (every decode done before the
// next frame).
type pacedClock struct {
	scale float64
	fixed float64 // seconds every call lasts besides its scaled CPU time

	mu       sync.Mutex
	now      float64
	running  int          // calls computing, in real time
	sleeping []*pacedCall // calls computed, waiting for their end on the clock
	free     bool         // after the last frame: calls end at once
	short    []float64    // CPU seconds of short-window calls
	full     []float64    // and of 30 s ones
	// trace, when set, sees every call: its start on the clock, CPU time,
	// audio, options and result.
	trace func(start, cpu float64, samples []float32, opt whisper.ClipOptions, r *whisper.Result, err error)
}

type pacedCall struct {
	ctx  context.Context
	end  float64
	wake chan struct{}
}

// decode is the engine's pace hook: it runs one Whisper call and holds its
// result until the clock reaches the call's end, or ctx ends first (a
// final or probe cancelled the partial, at that frame's time).
func (c *pacedClock) decode(ctx context.Context, samples []float32, opt whisper.ClipOptions,
	run func() (*whisper.Result, error)) (*whisper.Result, error) {
	c.mu.Lock()
	start := c.now
	c.running++
	c.mu.Unlock()
	var r *whisper.Result
	var err error
	cpu := threadCPU(func() { r, err = run() })
	if c.trace != nil {
		c.trace(start, cpu, samples, opt, r, err)
	}
	call := &pacedCall{ctx: ctx, end: start + c.fixed + c.scale*cpu, wake: make(chan struct{})}
	c.mu.Lock()
	c.running--
	if opt.Short {
		c.short = append(c.short, cpu)
	} else {
		c.full = append(c.full, cpu)
	}
	if c.free {
		c.mu.Unlock()
		return r, err
	}
	c.sleeping = append(c.sleeping, call)
	c.mu.Unlock()
	select {
	case <-call.wake:
		return r, err
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.sleeping, call); i >= 0 {
			c.sleeping = slices.Delete(c.sleeping, i, i+1)
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// threadCPU runs fn on one locked OS thread and returns the CPU seconds
// that thread spent on it (ONNX Runtime runs a one-thread call on the
// caller's thread).
func threadCPU(fn func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const rusageThread = 1 // RUSAGE_THREAD
	var a, b syscall.Rusage
	syscall.Getrusage(rusageThread, &a)
	fn()
	syscall.Getrusage(rusageThread, &b)
	return time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano()).Seconds()
}

// time is the clock's now, in seconds of audio.
func (c *pacedClock) time() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// quiet reports whether session s waits for the clock: no call computes,
// and the worker either sleeps in a call not cancelled or waits for work.
func (c *pacedClock) quiet(s *Session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running > 0 {
		return false
	}
	for _, x := range c.sleeping {
		if x.ctx.Err() != nil {
			return false
		}
	}
	return len(s.events) == 0 && (len(c.sleeping) > 0 || s.jobs.idle())
}

// advance ends, in order, the calls due by t (the session settling after
// each), then sets the clock to t.
func (c *pacedClock) advance(t float64, settle func()) {
	for {
		settle()
		c.mu.Lock()
		var next *pacedCall
		for _, x := range c.sleeping {
			if next == nil || x.end < next.end {
				next = x
			}
		}
		if next == nil || next.end > t {
			c.now = max(c.now, t)
			c.mu.Unlock()
			return
		}
		c.sleeping = slices.DeleteFunc(c.sleeping, func(x *pacedCall) bool { return x == next })
		c.now = max(c.now, next.end)
		c.mu.Unlock()
		close(next.wake)
	}
}

// release lets every call end at once (the stream is over).
func (c *pacedClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free = true
	for _, x := range c.sleeping {
		close(x.wake)
	}
	c.sleeping = nil
}

// costs summarises the calls' CPU time, to compare with the idle machine's
// (BENCHMARKS.md: a short-window partial ≈ 0.20 s, a 30 s one 0.42–0.47 s).
func (c *pacedClock) costs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / math.Max(1, float64(len(xs)))
	}
	return fmt.Sprintf("%d short-window calls, mean %.3f CPU-s; %d 30 s calls, mean %.3f CPU-s",
		len(c.short), mean(c.short), len(c.full), mean(c.full))
}

// runPaced streams samples through one session on clock c.
func runPaced(t *testing.T, e *Engine, opt Options, samples []float32, c *pacedClock) timedRun {
	t.Helper()
	s, err := e.NewSession(opt)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("WHOSPOKE_LIVE_TRACE") != "" {
		c.trace = func(start, cpu float64, samples []float32, opt whisper.ClipOptions, r *whisper.Result, err error) {
			text := ""
			if r != nil {
				text = r.Text
			}
			t.Logf("    decode at %.2f s, %.2f CPU-s, %.2f s of audio, short %v, prompt %d chars: %q %v",
				start, cpu, float64(len(samples))/SampleRate, opt.Short, len(opt.Prompt), text, err)
		}
	}
	e.pace = c.decode
	defer func() { e.pace = nil }()
	var r timedRun
	read := func(ev Event) {
		r.events = append(r.events, ev)
		r.at = append(r.at, c.time())
	}
	settle := func() {
		for {
			for drained := false; !drained; {
				select {
				case ev := <-s.Events():
					read(ev)
				default:
					drained = true
				}
			}
			if c.quiet(s) {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	ctx := context.Background()
	for i, off := 0, 0; off < len(samples); i, off = i+1, off+1600 {
		c.advance(float64(i)/10, settle)
		if err := s.Push(ctx, samples[off:min(off+1600, len(samples))]); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(float64(len(samples))/SampleRate, settle)
	c.release()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.Finish(ctx, read); err != nil {
		t.Error(err)
	}
	t.Log(c.costs())
	return r
}

// TestPauseEndedByLateProbe: on pyannote_sample one speaker says "Hello."
// (to 6.9 s) and the other answers "Hello?" after a pause of about 0.45 s.
// The pause ends the turn when the probe decoded in it ends a sentence;
// decodes that each last 0.45 s (a 30 s window's decode at real time)
// bring that answer after the answer has begun, and the turn must still
// end there rather than run on into the next speaker's words.
func TestPauseEndedByLateProbe(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := testEngine(t)
	samples := loadSamples(t, filepath.Join(testenv.ModelsDir("test-audio"), "test-audio", "pyannote-sample", "sample.wav"))
	opt := Options{Turns: DefaultTurnDetection(), Partials: true}
	r := runPaced(t, e, opt, samples[:10*SampleRate], &pacedClock{fixed: 0.45})
	var finals []*Turn
	for _, ev := range r.events {
		if ev.Kind == Final && len(ev.Turn.Words) > 0 {
			finals = append(finals, ev.Turn)
		}
	}
	if len(finals) < 2 || strings.Join(strings.Fields(finals[0].Text), " ") != "Hello." || finals[0].End > 7.2 {
		for _, f := range finals {
			t.Logf("final %.2f–%.2f: %s", f.Start, f.End, f.Text)
		}
		t.Fatalf("want the first turn to be %q alone, ended in the pause at 6.9–7.4 s", "Hello.")
	}
	if finals[1].Start < finals[0].End {
		t.Errorf("the next turn starts at %.2f s, inside the first (to %.2f s)", finals[1].Start, finals[0].End)
	}
}
