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
	"runtime"

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
	pending []float32 // samples not yet filling a frame
	// The model's tensors, made once per stream over the memory above and
	// reused by every frame: making and freeing five tensors a frame cost
	// a fifth of the detector's time (BENCHMARKS.md, issue 16). The state
	// ping-pongs between two buffers, the output of one frame being the
	// input of the next, so it is never copied.
	t *tensors
}

type tensors struct {
	input       *ort.Tensor[float32]
	state, next *ort.Tensor[float32]
	sr          *ort.Scalar[int64]
	prob        *ort.Tensor[float32]
}

func (t *tensors) destroy() {
	for _, v := range []*ort.Tensor[float32]{t.input, t.state, t.next, t.prob} {
		if v != nil {
			v.Destroy()
		}
	}
	if t.sr != nil {
		t.sr.Destroy()
	}
}

// NewStream starts a stream with zero state and context.
func (m *Model) NewStream() *Stream {
	return &Stream{m: m, input: make([]float32, contextLen+FrameSamples)}
}

// newTensors makes the stream's tensors; a cleanup frees them with the
// stream, which has no Close of its own (its callers never needed one).
func (s *Stream) newTensors() error {
	state, e1 := ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128))
	next, e2 := ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128))
	prob, e3 := ort.NewEmptyTensor[float32](ort.NewShape(1, 1))
	input, e4 := ort.NewTensor(ort.NewShape(1, contextLen+FrameSamples), s.input)
	sr, e5 := ort.NewScalar(int64(SampleRate))
	t := &tensors{input: input, state: state, next: next, sr: sr, prob: prob}
	if err := errors.Join(e1, e2, e3, e4, e5); err != nil {
		t.destroy()
		return err
	}
	s.t = t
	runtime.AddCleanup(s, func(t *tensors) { t.destroy() }, t)
	return nil
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
	if s.t == nil {
		if err := s.newTensors(); err != nil {
			return 0, err
		}
	}
	t := s.t
	if err := s.m.sess.RunInto([]ort.Value{t.input, t.state, t.sr}, []ort.Value{t.prob, t.next}); err != nil {
		return 0, err
	}
	t.state, t.next = t.next, t.state
	return t.prob.GetData()[0], nil
}
