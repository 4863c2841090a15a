// Package vad is whospoke's voice activity detector: Silero VAD v6.2 run
// through ONNX Runtime on 32 ms frames, one stateful Stream per audio stream.
// The live transcriber uses it to open and close turns within tens of
// milliseconds, where the diarizer decides a second behind the audio.
package vad

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/whospoke/whospoke/onnx"
)

// Geometry of the 16 kHz model (docs/MODELS.md, silero-vad-v6.2): each call takes
// the last 64 samples of the previous input followed by 512 new ones, and
// carries a [2, 1, 128] state.
const (
	SampleRate   = 16000
	FrameSamples = 512
	contextLen   = 64
	stateLen     = 2 * 128
)

// FrameSeconds is the duration of one decision.
const FrameSeconds = float64(FrameSamples) / SampleRate

// ModelFile is the model's path inside the models folder.
const ModelFile = "silero-vad-v6.2/silero_vad.onnx"

// Config says where the model is and how to run it.
type Config struct {
	Path    string // the silero_vad.onnx file
	Threads int    // intra-op threads; 0 = 1 (a frame is too small to split)
}

// DefaultConfig is the model installed in modelsDir.
func DefaultConfig(modelsDir string) Config {
	return Config{Path: filepath.Join(modelsDir, ModelFile)}
}

// Validate checks that the model file exists and the settings make sense.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("vad: no model path")
	}
	if c.Threads < 0 {
		return fmt.Errorf("vad: threads %d < 0", c.Threads)
	}
	if _, err := os.Stat(c.Path); err != nil {
		return fmt.Errorf("vad: %w (install models with `whospoke models install`)", err)
	}
	return nil
}

// Model is the loaded detector, shared by all streams (safe for concurrent
// use).
type Model struct {
	sess *onnx.Session
}

// New loads the model.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := onnx.Open(cfg.Path, []string{"input", "state", "sr"}, []string{"output", "stateN"},
		onnx.Options{Threads: max(cfg.Threads, 1)})
	if err != nil {
		return nil, err
	}
	return &Model{sess: s}, nil
}

// Close frees the model.
func (m *Model) Close() error { return m.sess.Close() }

// Stream follows one audio stream. It is not safe for concurrent use.
type Stream struct {
	m *Model
	// Separate allocations, not arrays inside Stream: cgo refuses memory
	// that holds Go pointers.
	input   []float32 // context, then the frame
	state   []float32
	pending []float32 // samples not yet filling a frame
}

// NewStream starts a stream with zero state and context.
func (m *Model) NewStream() *Stream {
	return &Stream{m: m, input: make([]float32, contextLen+FrameSamples), state: make([]float32, stateLen)}
}

// Push adds 16 kHz samples and returns the speech probability of every
// frame they completed, in order.
func (s *Stream) Push(samples []float32) ([]float32, error) {
	s.pending = append(s.pending, samples...)
	var probs []float32
	for len(s.pending) >= FrameSamples {
		copy(s.input[contextLen:], s.pending[:FrameSamples])
		p, err := s.run()
		if err != nil {
			return probs, err
		}
		probs = append(probs, p)
		copy(s.input[:contextLen], s.input[FrameSamples:])
		s.pending = s.pending[FrameSamples:]
	}
	// Keep the leftover at the front so pending does not grow unbounded.
	s.pending = append(s.pending[:0:0], s.pending...)
	return probs, nil
}

func (s *Stream) run() (float32, error) {
	in, err := ort.NewTensor(ort.NewShape(1, contextLen+FrameSamples), s.input)
	if err != nil {
		return 0, err
	}
	defer in.Destroy()
	st, err := ort.NewTensor(ort.NewShape(2, 1, 128), s.state)
	if err != nil {
		return 0, err
	}
	defer st.Destroy()
	sr, err := ort.NewScalar(int64(SampleRate))
	if err != nil {
		return 0, err
	}
	defer sr.Destroy()
	outs, err := s.m.sess.Run(in, st, sr)
	if err != nil {
		return 0, err
	}
	defer onnx.Release(outs...)
	prob, ok1 := outs[0].(*ort.Tensor[float32])
	next, ok2 := outs[1].(*ort.Tensor[float32])
	if !ok1 || !ok2 || len(prob.GetData()) != 1 || len(next.GetData()) != stateLen {
		return 0, errors.New("vad: unexpected output tensors")
	}
	copy(s.state, next.GetData())
	return prob.GetData()[0], nil
}
