// Package segmentation runs pyannote segmentation-3.0 over audio: 10 s
// windows slid across the file, each decoded from the 7-class powerset into
// the activity of up to 3 local (per-window) speakers, frame by frame.
package segmentation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/whospoke/whospoke/onnx"
)

// Geometry of segmentation-3.0 (docs/MODELS.md): 10 s windows of 16 kHz audio,
// 589 output frames, frame f covering samples [270f, 270f+991).
const (
	SampleRate    = 16000
	WindowSamples = 160000
	NumFrames     = 589
	FrameStep     = 270
	FrameSize     = 991
	NumClasses    = 7
	LocalSpeakers = 3
)

// powerset maps each class to the local speakers it switches on
// (pyannote's combinations order: {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}).
var powerset = [NumClasses][LocalSpeakers]bool{
	{}, {true}, {false, true}, {false, false, true},
	{true, true}, {true, false, true}, {false, true, true},
}

// FrameCenter is the time, in seconds from the window start, of frame f's centre.
func FrameCenter(f int) float64 { return float64(FrameStep*f+FrameSize/2) / SampleRate }

// Config configures the segmentation model.
type Config struct {
	Model     string  // path to model.onnx
	Threads   int     // intra-op threads (0 = all cores)
	BatchSize int     // windows per inference call
	Step      float64 // seconds between window starts
}

// DefaultConfig is the setting measured best on the dev set (see BENCHMARKS.md).
func DefaultConfig(model string) Config {
	return Config{Model: model, BatchSize: 4, Step: 1.0}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Model == "":
		return errors.New("segmentation: no model path")
	case c.BatchSize < 1 || c.BatchSize > 256:
		return fmt.Errorf("segmentation: batch size %d outside 1..256", c.BatchSize)
	case c.Step < 0.1 || c.Step > 10:
		return fmt.Errorf("segmentation: step %.3gs outside 0.1..10 s", c.Step)
	case c.Threads < 0:
		return fmt.Errorf("segmentation: threads %d < 0", c.Threads)
	}
	if _, err := os.Stat(c.Model); err != nil {
		return fmt.Errorf("segmentation model: %w", err)
	}
	return nil
}

// Model is a loaded segmentation model; safe for concurrent use.
type Model struct {
	cfg  Config
	sess *onnx.Session
}

// New loads the model.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := onnx.Open(cfg.Model, []string{"input"}, []string{"output"}, onnx.Options{Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	return &Model{cfg: cfg, sess: s}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Close frees the model.
func (m *Model) Close() error { return m.sess.Close() }

// Infer runs n windows (n×160000 samples, row-major) and returns their
// log-probabilities, n×589×7.
func (m *Model) Infer(windows []float32, n int) ([]float32, error) {
	if len(windows) != n*WindowSamples {
		return nil, fmt.Errorf("segmentation: %d samples for %d windows", len(windows), n)
	}
	return m.sess.RunFloat32(windows, []int64{int64(n), 1, WindowSamples}, []int64{int64(n), NumFrames, NumClasses})
}

// Source is random-access 16 kHz mono audio (audio.Audio satisfies it).
type Source interface {
	Len() int64
	ReadAt(dst []float32, off int64) (int, error)
}

// ReadPadded fills dst with the samples at off, zero-padding past the end of
// the audio (a short last window or chunk).
func ReadPadded(src Source, dst []float32, off int64) error {
	got, err := src.ReadAt(dst, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading audio: %w", err)
	}
	clear(dst[got:])
	return nil
}

// Output is the segmentation of a whole file.
type Output struct {
	NumSamples int64
	Step       int64   // samples between window starts
	Starts     []int64 // window start sample offsets
	// Probs[w][f][k] is the probability that local speaker k of window w is
	// active in frame f (sum of the powerset classes that contain k).
	Probs [][NumFrames][LocalSpeakers]float32
	// Active[w][f][k] is the hard (most likely powerset class) decision.
	Active [][NumFrames][LocalSpeakers]bool
}

// NumWindows returns the number of windows.
func (o *Output) NumWindows() int { return len(o.Starts) }

// WindowStarts lists the window offsets that cover n samples with the given
// step: the last window may extend past the end (zero-padded).
func WindowStarts(n, step int64) []int64 {
	starts := []int64{0}
	for s := step; s+WindowSamples-step < n; s += step {
		starts = append(starts, s)
	}
	return starts
}

// Run slides the model over src. progress, if not nil, is called with the
// number of windows done and the total.
func (m *Model) Run(ctx context.Context, src Source, progress func(done, total int)) (*Output, error) {
	n := src.Len()
	step := int64(math.Round(m.cfg.Step * SampleRate))
	out := &Output{NumSamples: n, Step: step, Starts: WindowStarts(n, step)}
	total := len(out.Starts)
	out.Probs = make([][NumFrames][LocalSpeakers]float32, total)
	out.Active = make([][NumFrames][LocalSpeakers]bool, total)
	buf := make([]float32, m.cfg.BatchSize*WindowSamples)
	for first := 0; first < total; first += m.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := min(m.cfg.BatchSize, total-first)
		batch := buf[:b*WindowSamples]
		for i := range b {
			w := batch[i*WindowSamples : (i+1)*WindowSamples]
			if err := ReadPadded(src, w, out.Starts[first+i]); err != nil {
				return nil, err
			}
		}
		logp, err := m.Infer(batch, b)
		if err != nil {
			return nil, err
		}
		for i := range b {
			decode(logp[i*NumFrames*NumClasses:(i+1)*NumFrames*NumClasses], &out.Probs[first+i], &out.Active[first+i])
		}
		if progress != nil {
			progress(first+b, total)
		}
	}
	return out, nil
}

// decode turns one window's powerset log-probabilities into per-speaker
// probabilities and hard decisions.
func decode(logp []float32, probs *[NumFrames][LocalSpeakers]float32, active *[NumFrames][LocalSpeakers]bool) {
	decodeFrames(logp, probs[:], active[:])
}
