package livetranscribe

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/vad"
	"github.com/whospoke/whospoke/whisper"
)

// Config says which models an Engine loads and how sessions use them.
type Config struct {
	// ModelsDir is the installed models folder (whisper-tiny.en,
	// silero-vad-v6.2, …).
	ModelsDir string
	// Model is the Whisper model folder name (default "whisper-tiny.en").
	Model string
	// Threads is the intra-op threads of each Whisper call (default 1: many
	// sessions share the cores, each decode on one).
	Threads int
	// Decoders caps the Whisper calls running at once across sessions
	// (default: one per core). Finals go first; partials take turns by
	// how long their session has waited, so under load every session's
	// partials come less often, and finals do not wait for them.
	Decoders int
	// PartialEvery is how much new audio triggers a partial re-decode of the
	// open turn (default 0.75 s).
	PartialEvery time.Duration
	// ShortFinals decodes finals (and the probes that anticipate them) in
	// the window cut to the turn that partials use, instead of the 30 s
	// window batch transcription uses. Off: on sim07 short finals looped
	// far more often (BENCHMARKS.md, Live transcription).
	ShortFinals bool
	// Live is the diarization engine that sessions with Options.Diarize use;
	// it may be the server's live engine.
	Live *live.Engine
}

// DefaultTurnDetection is AssemblyAI's default end-of-turn behaviour.
func DefaultTurnDetection() TurnDetection {
	return TurnDetection{Mode: TurnsBySilence, MinSilence: 400 * time.Millisecond,
		MaxSilence: 1280 * time.Millisecond, Confidence: 0.4, VADThreshold: 0.5}
}

func (c *Config) defaults() {
	if c.Model == "" {
		c.Model = "whisper-tiny.en"
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.Decoders == 0 {
		c.Decoders = runtime.GOMAXPROCS(0)
	}
	if c.PartialEvery == 0 {
		c.PartialEvery = 750 * time.Millisecond
	}
}

// Validate checks the settings (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.ModelsDir == "" {
		errs = append(errs, errors.New("livetranscribe: no models folder"))
	}
	if c.Threads < 0 || c.Decoders < 0 {
		errs = append(errs, fmt.Errorf("livetranscribe: threads %d and decoders %d must be ≥ 0", c.Threads, c.Decoders))
	}
	if c.PartialEvery < 100*time.Millisecond || c.PartialEvery > 10*time.Second {
		errs = append(errs, fmt.Errorf("livetranscribe: partial interval %s outside 0.1..10 s", c.PartialEvery))
	}
	return errors.Join(errs...)
}

// Validate checks end-of-turn settings.
func (td TurnDetection) Validate() error {
	if td.Mode != TurnsBySilence && td.Mode != TurnsByClient {
		return fmt.Errorf("livetranscribe: unknown turn mode %d", td.Mode)
	}
	if td.MinSilence < 0 || td.MaxSilence < td.MinSilence || td.MaxSilence > time.Minute {
		return fmt.Errorf("livetranscribe: turn silences %s..%s must satisfy 0 ≤ min ≤ max ≤ 1 min", td.MinSilence, td.MaxSilence)
	}
	if !(td.Confidence >= 0 && td.Confidence <= 1) || !(td.VADThreshold > 0 && td.VADThreshold < 1) {
		return fmt.Errorf("livetranscribe: confidence %v must be in [0, 1] and VAD threshold %v in (0, 1)", td.Confidence, td.VADThreshold)
	}
	return nil
}

// Engine holds the models all sessions share. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	asr      *whisper.Model
	vad      *vad.Model
	decoders *scheduler // Whisper calls in flight
	// pace, when set, runs every Whisper call (decode) and may hold its
	// result back: the evaluation's paced clock (livetranscribe/paced_test.go)
	// makes each call last, on a virtual clock, the CPU time it took. Nil in
	// service.
	pace func(ctx context.Context, samples []float32, opt whisper.ClipOptions, decode func() (*whisper.Result, error)) (*whisper.Result, error)
}

// New loads the models cfg names.
func New(cfg Config) (*Engine, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v, err := vad.New(vad.DefaultConfig(cfg.ModelsDir))
	if err != nil {
		return nil, err
	}
	asr, err := whisper.New(whisper.DefaultConfig(filepath.Join(cfg.ModelsDir, cfg.Model)).WithThreads(cfg.Threads))
	if err != nil {
		v.Close()
		return nil, err
	}
	return &Engine{cfg: cfg, asr: asr, vad: v, decoders: newScheduler(cfg.Decoders)}, nil
}

// Close frees the models; call it after the last session has closed.
func (e *Engine) Close() error {
	return errors.Join(e.asr.Close(), e.vad.Close())
}

// Config returns the engine's settings with defaults filled in.
func (e *Engine) Config() Config { return e.cfg }
