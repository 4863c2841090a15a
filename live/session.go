package live

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
)

// SampleRate is the rate, in Hz, of the samples a session takes.
const SampleRate = segmentation.SampleRate

// gridSamples is the resolution of decisions and event times (10 ms).
const gridSamples = 160

// ErrClosed is returned by Push after Flush.
var ErrClosed = errors.New("live: session already flushed")

// Session diarizes one live stream, as a thin incremental driver of the
// shared engine: buffer (buffer.go) → segmentation → chunk embedder
// (embed.go) → online clustering → aggregation (aggregate.go) → events
// (decide.go), decided only where the speech gate (gate.go) does not hear
// sure silence. It is not safe for concurrent use.
type Session struct {
	engine *Engine
	cfg    Config
	// Geometry in samples.
	bufLen, stepLen int64
	grid            chunkGrid // the embedding chunks, at the session's phase

	audio    audioBuffer
	nextStep int64 // end sample of the next buffer to process
	lastEnd  int64 // end sample of the last buffer processed (0 = none)

	chunkVecs map[int64][]float32 // embedded chunks still inside the buffer
	// The last buffer's segmentation (it ended at lastEnd) and own-speech
	// embeddings, which the next buffer may reuse (Config.FallbackReuse).
	prev     *segmentation.Chunk
	memos    []memo
	speakers clustering.Online

	activity activityGrid
	decider  decider
	gate     *speechGate // nil: Config.SpeechGate off
	history  *history    // nil: no WithHistory
	closed   bool
	err      error
}

// Option adjusts one session's settings.
type Option func(*sessionOptions)

type sessionOptions struct {
	cfg     Config
	phase   int64 // chunk grid phase in steps; −1: the engine's next
	history bool  // WithHistory
}

// WithMaxSpeakers caps the session's speakers at n (1..100; the engine's
// setting otherwise).
func WithMaxSpeakers(n int) Option {
	return func(o *sessionOptions) {
		if n >= 1 && n <= 100 {
			o.cfg.MaxSpeakers = n
		}
	}
}

// WithChunkPhase starts the session's embedding chunk grid p steps into the
// stream (taken modulo the steps per chunk hop) instead of at the phase the
// engine deals out in turn (phase.go). Sessions with the same phase give
// the same events for the same audio.
func WithChunkPhase(p int) Option {
	return func(o *sessionOptions) {
		if p >= 0 {
			o.phase = int64(p)
		}
	}
}

// NewSession starts a stream.
func (e *Engine) NewSession(opts ...Option) *Session {
	o := sessionOptions{cfg: e.cfg, phase: -1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.phase < 0 {
		o.phase = e.nextPhase()
	}
	c := o.cfg
	s := &Session{
		engine:   e,
		cfg:      c,
		bufLen:   int64(math.Round(c.Buffer * SampleRate)),
		stepLen:  int64(math.Round(c.Step * SampleRate)),
		grid:     e.grid(o.phase),
		speakers: clustering.Online{MaxSpeakers: c.MaxSpeakers, DeltaNew: c.DeltaNew, RhoUpdate: c.RhoUpdate},
		decider:  decider{latency: int64(math.Round(c.Latency * SampleRate)), onset: c.Onset, offset: c.Offset},
	}
	s.nextStep = s.stepLen
	if c.SpeechGate > 0 {
		s.gate = newSpeechGate(e.models.VAD, c.SpeechGate)
		s.decider.speech = s.gate.speech
		if c.RecoverSpeech {
			s.decider.voiced = s.gate.voiced
		}
	}
	if o.history {
		s.history, s.decider.record = &history{}, true
	}
	return s
}

// Push adds 16 kHz mono samples and returns the events they made decidable
// (in time order). The frame size does not matter: the same audio gives the
// same events however it is split. When ctx ends, the step in progress fails
// with its error and the session stays where it was.
func (s *Session) Push(ctx context.Context, samples []float32) (events []Event, err error) {
	return s.push(ctx, samples, nil, false)
}

// PushHeard is Push for a caller that runs Silero VAD (vad.Stream, the
// model the engine loads) on the same samples already: probs are what its
// Push returned for them, and the speech gate takes them instead of running
// the model a second time. A session takes either Push or PushHeard, not
// both.
func (s *Session) PushHeard(ctx context.Context, samples, probs []float32) ([]Event, error) {
	return s.push(ctx, samples, probs, true)
}

func (s *Session) push(ctx context.Context, samples, probs []float32, heard bool) (events []Event, err error) {
	defer s.recoverPanic(&err)
	if s.history != nil {
		defer func() { s.history.events = append(s.history.events, events...) }()
	}
	if s.closed {
		return nil, ErrClosed
	}
	s.audio.push(samples)
	if s.gate != nil && heard {
		s.gate.add(probs)
	} else if s.gate != nil {
		if err := s.gate.push(samples); err != nil {
			return nil, err
		}
	}
	for s.nextStep <= s.audio.total {
		if err := s.process(ctx, s.nextStep); err != nil {
			return events, err
		}
		s.nextStep += s.stepLen
		events = s.decider.decide(&s.activity, (s.lastEnd-s.decider.latency)/gridSamples, events)
	}
	s.trim()
	return events, nil
}

// Flush ends the stream: the audio after the last step is processed, every
// remaining time is decided and every open turn is closed at the end of the
// audio. The session takes no more audio afterwards. Should the last
// buffer fail to run (ctx ended, a model failed), its audio is decided from
// the earlier buffers and Err reports why.
func (s *Session) Flush(ctx context.Context) (events []Event) {
	defer s.recoverPanic(&s.err)
	if s.closed {
		return nil
	}
	s.closed = true
	if total := s.audio.total; total > s.lastEnd && total > 0 {
		s.err = s.process(ctx, total)
	}
	events = s.decider.finish(&s.activity, s.audio.total, nil)
	if s.history != nil {
		s.history.events = append(s.history.events, events...)
	}
	s.audio.release()
	s.activity, s.prev, s.memos = activityGrid{}, nil, nil
	return events
}

// recoverPanic turns a panic in the session into *err and closes the
// session (its state may be broken): one stream's failure must not take
// down the process and every other stream with it.
func (s *Session) recoverPanic(err *error) {
	if v := recover(); v != nil {
		s.closed = true
		*err = fmt.Errorf("live: engine failure: %v", v)
	}
}

// Err is the error of Flush's last buffer, if any.
func (s *Session) Err() error { return s.err }

// Duration is the audio pushed so far, in seconds.
func (s *Session) Duration() float64 { return float64(s.audio.total) / SampleRate }

// NumSpeakers is the number of speakers that have spoken so far.
func (s *Session) NumSpeakers() int { return s.decider.numLabels }

// Speakers maps the label of each speaker that has spoken so far to its
// voice centroid (unit length; a copy), for matching against voiceprints.
func (s *Session) Speakers() map[string][]float32 {
	out := map[string][]float32{}
	for g, l := range s.decider.labels {
		if l == "" || g >= len(s.speakers.Centroids) {
			continue
		}
		v := append([]float32(nil), s.speakers.Centroids[g]...)
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if n = math.Sqrt(n); n > 0 {
			for i := range v {
				v[i] = float32(float64(v[i]) / n)
			}
		}
		out[l] = v
	}
	return out
}

// process runs the buffer ending at sample end.
func (s *Session) process(ctx context.Context, end int64) error {
	start := end - s.bufLen
	buf := s.audio.window(start, end)
	s.audio.computeFeats(s.engine.embedder.Fbank(), end)

	ch, err := s.segment(ctx, buf, start, end)
	if err != nil {
		return err
	}
	locals := s.localSpeakers(&ch, start)
	if err := s.embed(ctx, locals, &ch, start, end); err != nil {
		return err
	}
	s.place(&ch, locals, start, end)
	if s.history != nil {
		s.history.record(&ch, locals, s.chunkVecs, start, end)
	}
	s.lastEnd = end
	return nil
}

// place maps the buffer's embedded local speakers to global speakers (the
// mapping it returns) and adds their activity, buffer [start, end), to the
// grid. It reads no model, so a run recorded buffer by buffer replays it
// exactly (replay_test.go).
func (s *Session) place(ch *segmentation.Chunk, locals []local, start, end int64) []int {
	mapping := s.speakers.Assign(onlineLocals(locals))
	centroids := s.speakers.Centroids
	s.activity.grow(len(centroids), 0)
	labels := chunkLabels(locals, mapping, s.chunkVecs, centroids)
	s.activity.aggregate(ch, mapping, labels, s.grid, start, end, s.decider.decided)
	return mapping
}

// segment runs the segmentation model on the buffer [start, end), unless
// the speech gate is sure that all of it is silence: then the buffer is
// taken to hold no one (a chunk without activity), which is what the model
// finds there, at none of its cost. Whatever else it found would be a
// "speaker" in silence, whose cells the gate makes no one's (but for its
// 32 ms padding), and which could only found or pull a speaker from
// silence. An idle stream thus costs the VAD alone.
func (s *Session) segment(ctx context.Context, buf []float32, start, end int64) (segmentation.Chunk, error) {
	if s.gate != nil && s.gate.silentFrom(start, end) {
		return segmentation.NewChunk(segmentation.ChunkFrames(len(buf))), nil
	}
	return s.engine.seg.do(ctx, buf)
}

// segFrame is the frame of a buffer starting at start whose centre is
// nearest to sample x (clamped).
func segFrame(x, start int64, n int) int {
	f := int(math.Round(float64(x-start-segmentation.FrameSize/2) / segmentation.FrameStep))
	return min(max(f, 0), n-1)
}

// trim drops audio, features and grid cells no future buffer or decision needs.
func (s *Session) trim() {
	// Flush's last buffer may end up to a step before nextStep.
	first := s.nextStep - s.stepLen - s.bufLen
	s.audio.trim(first-features.FrameLength, first/features.FrameShift-1)
	s.activity.trim(s.decider.decided)
	if s.gate != nil {
		s.gate.trim(s.decider.decided)
	}
}
