package livetranscribe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/whospoke/whospoke/internal/safego"
	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/vad"
)

// Turn-detection constants that follow from the models, not from tuning.
const (
	// preRoll is audio kept before the VAD's first speech frame: Silero
	// fires a frame or two into a word, and Whisper needs its onset.
	preRoll = 0.2
	// postRoll is audio kept after the last speech frame, for the same
	// reason at the word's end.
	postRoll = 0.2
	// maxTurnSeconds ends a turn that has run this long: Whisper hears at
	// most 30 s at once.
	maxTurnSeconds = 28
	// vadHysteresis: speech goes on until the probability falls this far
	// below the threshold (Silero's own neg_threshold rule).
	vadHysteresis = 0.15
	// minSplitSeconds: a speaker change splits a turn only when each side
	// holds at least this much audio.
	minSplitSeconds = 1.0
	// longTurnSeconds: past this, any pause of shortPause ends the turn,
	// whatever the sentence cue says. Every partial re-decodes the open
	// turn and the final decodes it whole, so their cost grows with the
	// turn: on one core a 10 s clip decodes in about 0.6 s, a 20 s one in
	// 2 s or more (BENCHMARKS.md, Live clips), beyond what a caption may
	// lag. In a lively conversation the VAD's pauses are that short: on
	// the dev phone call the only dips in 15 s of speech last 0.2 s.
	longTurnSeconds = 10
	// shortPause is the shortest silence taken as a pause between words
	// rather than a stop inside one (plosive closures last up to ~100 ms).
	shortPause = 160 * time.Millisecond
)

// Session is one live transcription. Push, EndTurn, Clear,
// SetTurnDetection, Speakers and Close are called from one goroutine; events
// arrive on Events from the session's own goroutines, and the caller must
// keep reading them (from another goroutine) until the channel closes.
type Session struct {
	e      *Engine
	opt    Options
	events chan Event
	vad    *vad.Stream
	diar   *live.Session // nil without Options.Diarize
	tl     *timeline     // the diarizer's decisions, for splitting turns

	// audio holds samples from global index base on: what the open turn
	// (and the pre-roll of the next one) still needs.
	audio []float32
	base  int64
	total int64

	vadFrames  int64 // VAD frames decided (frame k ends at sample 512·(k+1))
	speaking   bool
	lastSpeech int64 // end sample of the last speech frame
	turn       openTurn
	turnID     int
	hyp        hypothesis // the worker's latest reading of the open turn

	jobs   *queue
	done   chan struct{} // closed when the worker exits
	cancel context.CancelFunc
	closed bool

	// work runs the worker: a panic there ends the session's words and
	// comes back from Close, instead of killing every stream on the node.
	work safego.Group
}

// openTurn is the turn being heard, as the Push side sees it.
type openTurn struct {
	open        bool
	start       int64 // first sample
	speech      int64 // samples of speech frames inside it
	lastPartial int64 // end sample of the last partial scheduled
	probed      bool  // a probe decode was scheduled in the current silence
	probeUpto   int64 // end sample of the latest probe's audio (0: none)
	pauseFrom   int64 // end sample of the speech before the latest probe's pause
	resumed     int64 // first speech sample after the latest probe (0: none)
}

// hypothesis is shared with the worker: whether the latest decode of turn
// id, covering audio up to sample upto, ends a sentence.
type hypothesis struct {
	mu           sync.Mutex
	id           int
	upto         int64
	endsSentence bool
}

func (h *hypothesis) set(id int, upto int64, ends bool) {
	h.mu.Lock()
	h.id, h.upto, h.endsSentence = id, upto, ends
	h.mu.Unlock()
}

func (h *hypothesis) get() (id int, upto int64, ends bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id, h.upto, h.endsSentence
}

// NewSession starts a session; its worker runs until Close.
func (e *Engine) NewSession(opt Options) (*Session, error) {
	if err := opt.Turns.Validate(); err != nil {
		return nil, err
	}
	if opt.Diarize && e.cfg.Live == nil {
		return nil, errors.New("livetranscribe: diarization asked for but the engine has no live diarizer")
	}
	s := &Session{e: e, opt: opt, events: make(chan Event, 1024), vad: e.vad.NewStream(),
		tl: newTimeline(), jobs: newQueue(), done: make(chan struct{})}
	s.hyp.id = -1
	if opt.Diarize {
		so := []live.Option{live.WithHistory()} // for the revision at Close
		if opt.MaxSpeakers > 0 {
			so = append(so, live.WithMaxSpeakers(opt.MaxSpeakers))
		}
		s.diar = e.cfg.Live.NewSession(so...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	w := newWorker(s)
	s.work.Go(func() {
		defer close(s.done)
		defer close(s.events)
		w.run(ctx)
	})
	if opt.Turns.Mode == TurnsByClient {
		s.turn = openTurn{open: true}
	}
	return s, nil
}

// Push adds 16 kHz mono samples. It runs the VAD and the diarizer inline
// (cheap next to Whisper) and leaves recognition to the session's worker:
// it does not wait for Whisper.
func (s *Session) Push(ctx context.Context, samples []float32) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.audio = append(s.audio, samples...)
	s.total += int64(len(samples))
	probs, err := s.vad.Push(samples)
	if err != nil {
		return fmt.Errorf("livetranscribe: vad: %w", err)
	}
	if err := s.diarize(ctx, samples, probs); err != nil {
		return err
	}
	for _, p := range probs {
		s.vadFrames++
		if err := s.frame(ctx, p, s.vadFrames*vad.FrameSamples); err != nil {
			return err
		}
	}
	s.trim()
	return nil
}

// diarize runs the live diarizer on new samples, reports its events and
// hands them to the worker (word speakers, revisions). A speaker change
// inside the open turn may end it.
// Its speech gate hears the session's own VAD probabilities (probs, for
// these samples) rather than running Silero on them again.
func (s *Session) diarize(ctx context.Context, samples, probs []float32) error {
	if s.diar == nil {
		return nil
	}
	evs, err := s.diar.PushHeard(ctx, samples, probs)
	if err != nil {
		return fmt.Errorf("livetranscribe: diarizer: %w", err)
	}
	return s.speakerEvents(ctx, evs, s.decidedTime())
}

// decidedTime is how far the diarizer's decisions reach: events about time t
// come once audio to t + Latency has been processed, a Step at a time.
func (s *Session) decidedTime() float64 {
	c := s.e.cfg.Live.Config()
	return max(0, s.diar.Duration()-c.Latency-c.Step)
}

func (s *Session) speakerEvents(ctx context.Context, evs []live.Event, decided float64) error {
	s.tl.add(evs, decided)
	for _, e := range evs {
		k := SpeakerStart
		if e.Type == live.End {
			k = SpeakerEnd
		}
		if err := s.emit(ctx, Event{Kind: k, Time: e.Time, Speaker: e.Speaker}); err != nil {
			return err
		}
	}
	s.jobs.push(job{kind: jobSpeakers, speakers: evs, decided: decided})
	if at, ok := s.speakerChange(evs); ok {
		// The next turn starts where this one ends, which may be after at
		// (a probe's audio reaching past the diarizer's split point): turns
		// that overlapped decoded the overlap twice ("four, five" at the end
		// of one sim07 turn and the start of the next).
		end := s.splitEnd(at)
		s.endTurn(end, false, 1)
		s.continueTurn(end)
	}
	return nil
}

// splitTolerance: how far before a split point, as the diarizer places it,
// the next speaker's speech may start by the VAD (the diarizer's turn edges
// are that coarse) and the pause still count as the one at the split.
const splitTolerance = 0.25 * SampleRate

// splitEnd is where the turn split at sample at ends: at the end of its
// latest probe's audio when nobody spoke between that and the split, so
// the final is that probe, decoded a second before the diarizer saw the
// speaker change; else at at.
func (s *Session) splitEnd(at int64) int64 {
	t := s.turn
	if t.probeUpto > 0 && (t.resumed == 0 || t.resumed >= at-splitTolerance) {
		return t.probeUpto
	}
	return at
}

// speakerChange finds, among new diarizer events, a change of speaker inside
// the open turn: the turn's first speaker has stopped, another has started,
// and nobody else speaks. The turn is split halfway between the two.
func (s *Session) speakerChange(evs []live.Event) (int64, bool) {
	if !s.turn.open || s.opt.Turns.Mode != TurnsBySilence {
		return 0, false
	}
	start := float64(s.turn.start) / SampleRate
	first := s.tl.dominant(start, start+minSplitSeconds)
	for _, e := range evs {
		if e.Type != live.Start || e.Speaker == first || first == "" {
			continue
		}
		spans := s.tl.spans[first]
		last := spans[len(spans)-1]
		if math.IsInf(last[1], 1) || last[1] < start+minSplitSeconds || last[1] > e.Time+0.5 {
			continue // the first speaker still talks (overlap) or stopped long before
		}
		at := int64((last[1] + e.Time) / 2 * SampleRate)
		if at > s.turn.start && s.total-at >= int64(minSplitSeconds*SampleRate) {
			return at, true
		}
	}
	return 0, false
}

// frame applies one VAD decision about the 32 ms ending at sample end.
func (s *Session) frame(ctx context.Context, p float32, end int64) error {
	td := s.opt.Turns
	th := float32(td.VADThreshold)
	s.speaking = p >= th || (s.speaking && p >= th-vadHysteresis)
	if s.speaking {
		s.lastSpeech = end
		if !s.turn.open {
			start := max(end-vad.FrameSamples-int64(preRoll*SampleRate), s.base)
			s.openTurn(start)
			if err := s.emit(ctx, Event{Kind: SpeechStarted, Time: float64(end-vad.FrameSamples) / SampleRate}); err != nil {
				return err
			}
		}
		s.turn.speech += vad.FrameSamples
		s.turn.probed = false
		if s.turn.probeUpto > 0 && s.turn.resumed == 0 {
			s.turn.resumed = end - vad.FrameSamples
			// The probe was also the partial showing the words before
			// the pause: a short-window one takes its place.
			if s.pauseTooShort() && s.jobs.dropProbe() && s.opt.Partials {
				s.schedulePartial(end, false)
			}
		}
		if t := s.turn; t.open && s.pauseEnded() {
			s.endTurn(t.probeUpto, false, eotConfidence(true))
			s.continueTurn(max(t.probeUpto, t.resumed-int64(preRoll*SampleRate)))
		}
	}
	if !s.turn.open {
		return nil
	}
	if td.Mode == TurnsBySilence && !s.speaking && s.turn.speech > 0 {
		if err := s.silence(ctx, end); err != nil {
			return err
		}
	}
	if !s.turn.open {
		return nil
	}
	if end-s.turn.start >= maxTurnSeconds*SampleRate {
		s.endTurn(end, false, 0)
		if s.speaking {
			s.continueTurn(end)
		}
		return nil
	}
	every := int64(s.e.cfg.PartialEvery.Seconds() * SampleRate)
	if s.opt.Partials && s.turn.speech > 0 && s.speaking && end-s.turn.lastPartial >= every {
		s.schedulePartial(end, false)
	}
	return nil
}

func (s *Session) openTurn(start int64) {
	s.turnID++
	s.turn = openTurn{open: true, start: start, lastPartial: start}
}

// silence handles a non-speech frame inside an open turn: a probe decode
// of the speech so far early in the silence, then the end of the turn at
// MinSilence if that decode ends a sentence, else at MaxSilence.
func (s *Session) silence(ctx context.Context, end int64) error {
	td := s.opt.Turns
	quiet := time.Duration(float64(end-s.lastSpeech) / SampleRate * float64(time.Second))
	upto := min(s.lastSpeech+int64(postRoll*SampleRate), end)
	if !s.turn.probed && quiet >= td.MinSilence/2 {
		s.turn.probed = true
		s.turn.probeUpto, s.turn.pauseFrom, s.turn.resumed = upto, s.lastSpeech, 0
		s.schedulePartial(upto, true)
	}
	ends, conf := s.pauseEnds(quiet, end)
	if !ends {
		return nil
	}
	if err := s.emit(ctx, Event{Kind: SpeechStopped, Time: float64(s.lastSpeech) / SampleRate}); err != nil {
		return err
	}
	s.endTurn(upto, false, conf)
	return nil
}

// pauseEnded reports whether speech resumed after a pause that ended the
// open turn as heard: it lasted MinSilence or more and its probe, decoded
// since, ends a sentence. The probe starts MinSilence/2 into the pause and
// takes 0.2–0.5 s at real time, so it often comes after speech resumed:
// the turn then ends where the probe's audio ends, as it would have had
// the decode been instant (on pyannote_sample "Hello." and the answering
// "Hello?" became one 11 s turn at real time, two on the virtual clock).
// Only while the probe is the turn's latest decode: no partial has heard
// (or committed) the speech after it.
func (s *Session) pauseEnded() bool {
	t, td := s.turn, s.opt.Turns
	if td.Mode != TurnsBySilence || t.resumed == 0 || t.probeUpto == 0 {
		return false
	}
	pause := time.Duration(float64(t.resumed-t.pauseFrom) / SampleRate * float64(time.Second))
	id, covered, ends := s.hyp.get()
	return pause >= td.MinSilence && id == s.turnID && covered == t.probeUpto && ends &&
		eotConfidence(ends) >= td.Confidence
}

// pauseTooShort reports whether the latest probe's pause, now over, was
// shorter than MinSilence: it can no longer end the turn (pauseEnded), so
// its probe is not worth decoding.
func (s *Session) pauseTooShort() bool {
	t, td := s.turn, s.opt.Turns
	pause := time.Duration(float64(t.resumed-t.pauseFrom) / SampleRate * float64(time.Second))
	return td.Mode == TurnsBySilence && pause < td.MinSilence
}

// pauseEnds decides whether a pause of quiet (at sample end) ends the open
// turn, and with what end-of-turn confidence.
func (s *Session) pauseEnds(quiet time.Duration, end int64) (bool, float64) {
	td := s.opt.Turns
	id, covered, ends := s.hyp.get()
	conf := eotConfidence(id == s.turnID && covered >= s.lastSpeech && ends)
	long := float64(end-s.turn.start)/SampleRate >= longTurnSeconds
	switch {
	case quiet >= td.MaxSilence:
		return true, conf
	case quiet >= td.MinSilence && conf >= td.Confidence:
		return true, conf
	default:
		return quiet >= shortPause && long, conf
	}
}

// eotConfidence is the end-of-turn confidence of a pause: high when the
// latest decode of the turn ends a sentence (Whisper's punctuation), low
// otherwise. AssemblyAI's threshold (default 0.4) then decides at
// MinSilence; MaxSilence ends the turn regardless.
func eotConfidence(endsSentence bool) float64 {
	if endsSentence {
		return 0.9
	}
	return 0.1
}

// schedulePartial asks the worker to decode the open turn up to sample upto.
// probe marks a decode made for the end-of-turn decision.
func (s *Session) schedulePartial(upto int64, probe bool) {
	s.turn.lastPartial = upto
	s.jobs.push(job{kind: jobPartial, turn: s.turnID, start: s.turn.start,
		samples: s.span(s.turn.start, upto), probe: probe})
}

// endTurn closes the open turn at sample end and hands it to the worker.
// With client turns the next turn opens at once.
func (s *Session) endTurn(end int64, committed bool, conf float64) {
	if !s.turn.open {
		return
	}
	end = max(end, s.turn.start)
	s.jobs.push(job{kind: jobFinal, turn: s.turnID, start: s.turn.start, samples: s.span(s.turn.start, end),
		silent: s.turn.speech == 0, committed: committed, confidence: conf})
	s.turn = openTurn{}
	if s.opt.Turns.Mode == TurnsByClient {
		s.openTurn(end)
	}
}

// continueTurn opens the turn that goes on after a forced end at sample at
// (a speaker change, or the longest turn Whisper takes) while speech may
// still be under way: the audio since then counts as speech.
func (s *Session) continueTurn(at int64) {
	s.openTurn(at)
	s.turn.speech = max(s.lastSpeech-at, 0)
}

// span copies samples [from, to) of the stream.
func (s *Session) span(from, to int64) []float32 {
	from, to = max(from, s.base), min(to, s.total)
	if to <= from {
		return nil
	}
	return append([]float32(nil), s.audio[from-s.base:to-s.base]...)
}

// trim drops audio that no turn needs any more (keeping a pre-roll).
func (s *Session) trim() {
	keep := s.total - int64(preRoll*SampleRate) - vad.FrameSamples
	if s.turn.open {
		keep = min(keep, s.turn.start)
	}
	if drop := keep - s.base; drop > 0 && drop >= int64(len(s.audio))/2 {
		s.audio = append(s.audio[:0:0], s.audio[drop:]...)
		s.base = keep
	}
}

// usable is nil while the session takes audio: ErrClosed after Close,
// ErrFailed once the worker has died before it.
func (s *Session) usable() error {
	if s.closed {
		return ErrClosed
	}
	select {
	case <-s.done:
		return ErrFailed
	default:
		return nil
	}
}

// emit sends an event, unless ctx ends first.
func (s *Session) emit(ctx context.Context, e Event) error {
	select {
	case s.events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndTurn ends the open turn now (AssemblyAI ForceEndpoint, OpenAI
// input_audio_buffer.commit). Its Final carries Committed. With no speech
// since the last turn it still emits an empty Final, so every commit is
// answered.
func (s *Session) EndTurn(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if !s.turn.open {
		s.openTurn(s.total)
	}
	s.endTurn(s.total, true, 1)
	if s.opt.Turns.Mode == TurnsBySilence && s.speaking {
		s.continueTurn(s.total)
	}
	return nil
}

// Clear drops the open turn's audio that is not yet final (OpenAI
// input_audio_buffer.clear).
func (s *Session) Clear(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	s.jobs.push(job{kind: jobClear, turn: s.turnID})
	s.turn = openTurn{}
	if s.opt.Turns.Mode == TurnsByClient {
		s.openTurn(s.total)
	}
	return nil
}

// SetTurnDetection changes the end-of-turn settings mid-session.
func (s *Session) SetTurnDetection(td TurnDetection) error {
	if err := td.Validate(); err != nil {
		return err
	}
	if td.Mode != s.opt.Turns.Mode && s.turn.open {
		s.endTurn(s.total, false, 0)
	}
	s.opt.Turns = td
	if td.Mode == TurnsByClient && !s.turn.open {
		s.openTurn(s.total)
	}
	return nil
}

// Speakers returns the diarizer's speakers with their centroid embeddings
// (for voiceprint matching); nil without diarization.
func (s *Session) Speakers() map[string][]float32 {
	if s.diar == nil {
		return nil
	}
	return s.diar.Speakers()
}

// Duration is the audio pushed so far, in seconds.
func (s *Session) Duration() float64 { return float64(s.total) / SampleRate }

// Close ends the stream: the open turn is finalised, the diarizer flushed,
// the whole stream re-clustered (live.Session.Revise) and a last Revision
// sent of the turns whose labels that changed; then Events is closed. It
// waits for that, or for ctx (then pending work is dropped).
func (s *Session) Close(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	var err error
	if s.turn.open && (s.turn.speech > 0 || s.opt.Turns.Mode == TurnsBySilence) {
		s.endTurn(s.total, false, 1)
	}
	var revised []live.Event
	if s.diar != nil {
		err = s.speakerEvents(ctx, s.diar.Flush(ctx), math.Inf(1))
		err = errors.Join(err, s.diar.Err())
		if err == nil {
			revised, err = s.revise(ctx)
		}
	}
	s.jobs.push(job{kind: jobClose, revised: revised})
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
		err = errors.Join(err, ctx.Err())
	}
	s.cancel()
	return errors.Join(err, s.work.Wait())
}

// reviseBudget bounds the end-of-stream re-clustering: AssemblyAI's SDK
// waits 5 s after Terminate for the last messages, and the last final's
// decode shares the cores meanwhile. The re-clustering of a 1 h session
// took 0.86 s on 2 cores (BENCHMARKS.md, Live transcription, issue 16).
const reviseBudget = 2 * time.Second

// revise re-clusters the diarizer's whole stream (live.Session.Revise),
// giving up without error after reviseBudget: the labels sent stand.
func (s *Session) revise(ctx context.Context) ([]live.Event, error) {
	rctx, cancel := context.WithTimeout(ctx, reviseBudget)
	defer cancel()
	revised, err := s.diar.Revise(rctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, nil
	}
	return revised, err
}

// Finish is Close for a caller that reads Events in its own loop: it
// closes the session while handing every remaining event to fn, on the
// caller's goroutine.
func (s *Session) Finish(ctx context.Context, fn func(Event)) error {
	done := make(chan error, 1)
	go func() { done <- s.Close(ctx) }()
	for ev := range s.events {
		fn(ev)
	}
	return <-done
}

// Events delivers the session's events; it is closed after Close.
func (s *Session) Events() <-chan Event { return s.events }
