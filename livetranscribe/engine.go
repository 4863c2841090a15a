package livetranscribe

import (
	"errors"
	"time"

	"github.com/whospoke/whospoke/stream"
)

// Config says which models an Engine loads and how it shares them.
type Config struct {
	// ModelsDir is the installed models folder (whisper-tiny.en,
	// silero-vad-v6.2, …).
	ModelsDir string
	// Model is the Whisper model folder name (default "whisper-tiny.en").
	Model string
	// Threads is the intra-op threads of each model call (default 1: many
	// sessions share the cores).
	Threads int
	// Live is the diarization engine sessions with Options.Diarize use; it
	// may be the server's live engine.
	Live *stream.Engine
}

// DefaultTurnDetection is AssemblyAI's default end-of-turn behaviour.
func DefaultTurnDetection() TurnDetection {
	return TurnDetection{Mode: TurnsBySilence, MinSilence: 400 * time.Millisecond,
		MaxSilence: 1280 * time.Millisecond, Confidence: 0.4, VADThreshold: 0.5}
}

// Engine holds the models all sessions share. It is safe for concurrent use.
type Engine struct {
	cfg Config
}

// New loads the models cfg names.
func New(cfg Config) (*Engine, error) { return nil, errors.ErrUnsupported }

// NewSession starts a session.
func (e *Engine) NewSession(opt Options) (*Session, error) { return nil, errors.ErrUnsupported }

// Close frees the models once no session uses them.
func (e *Engine) Close() error { return nil }
