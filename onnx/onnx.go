// Package onnx is whospoke's model runtime: it loads the ONNX Runtime shared
// library once per process and opens sessions on model files, with the
// thread settings every model wrapper shares.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryName is the ONNX Runtime library file whospoke loads (1.30.0, from
// npm onnxruntime-node; `make setup` puts it where LibraryCandidates looks).
const LibraryName = "libonnxruntime.so.1"

var (
	initOnce sync.Once
	initErr  error
	initPath string
)

// LibraryCandidates lists where the runtime library is looked for, in order:
// $WHOSPOKE_ORT_LIB, beside the executable, ../lib beside it, the user's
// whospoke data dir, then the system's library path.
func LibraryCandidates() []string {
	var c []string
	if p := os.Getenv("WHOSPOKE_ORT_LIB"); p != "" {
		c = append(c, p)
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		c = append(c, filepath.Join(dir, LibraryName), filepath.Join(dir, "..", "lib", LibraryName))
	}
	c = append(c, filepath.Join(DataDir(), "lib", LibraryName))
	return c
}

// DataDir is whospoke's per-user data directory ($XDG_DATA_HOME/whospoke).
func DataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "whospoke")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "whospoke")
	}
	return filepath.Join(home, ".local", "share", "whospoke")
}

// Init loads the runtime library (path "" searches LibraryCandidates). It is
// safe to call many times; only the first call does the work.
func Init(path string) error {
	initOnce.Do(func() {
		if path == "" {
			path = LibraryName // let the dynamic loader search as a last resort
			for _, c := range LibraryCandidates() {
				if _, err := os.Stat(c); err == nil {
					path = c
					break
				}
			}
		}
		initPath = path
		keepLargeBuffersMapped()
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("loading ONNX Runtime from %s (run `make setup` or set WHOSPOKE_ORT_LIB): %w", path, err)
		}
	})
	return initErr
}

// Version reports the loaded runtime's version, or "" before Init.
func Version() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}

// LibraryPath is the library Init loaded.
func LibraryPath() string { return initPath }

// Options are the settings every session takes.
type Options struct {
	// Threads is the intra-op thread count; 0 means all cores.
	Threads int
}

func (o Options) threads() int {
	if o.Threads <= 0 {
		return runtime.NumCPU()
	}
	return o.Threads
}

// Session is one loaded model. Run is safe for concurrent use (ONNX Runtime
// sessions are thread-safe for inference).
type Session struct {
	sess    *ort.DynamicAdvancedSession
	path    string
	inputs  []string
	outputs []string
}

// Open loads the model at path with the named inputs and outputs.
func Open(path string, inputs, outputs []string, opt Options) (*Session, error) {
	if err := Init(""); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("model %s: %w (install models with `whospoke models install`)", path, err)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(opt.threads()); err != nil {
		return nil, err
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("opening model %s: %w", path, err)
	}
	return &Session{sess: s, path: path, inputs: inputs, outputs: outputs}, nil
}

// Path is the model file the session was loaded from.
func (s *Session) Path() string { return s.path }

// Metadata returns the model's custom metadata value for key.
func (s *Session) Metadata(key string) (string, bool, error) {
	md, err := s.sess.GetModelMetadata()
	if err != nil {
		return "", false, err
	}
	defer md.Destroy()
	return md.LookupCustomMetadataMap(key)
}

// Run runs the model on the inputs (in the order given to Open) and returns
// the outputs, allocated by the runtime; the caller destroys them with
// Release.
func (s *Session) Run(inputs ...ort.Value) ([]ort.Value, error) {
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("model %s: %d inputs given, want %d", s.path, len(inputs), len(s.inputs))
	}
	outs := make([]ort.Value, len(s.outputs))
	if err := s.sess.Run(inputs, outs); err != nil {
		Release(outs...)
		return nil, fmt.Errorf("running %s: %w", filepath.Base(s.path), err)
	}
	return outs, nil
}

// RunInto runs the model on the inputs, writing into outputs the caller
// allocated (shapes as the model gives them), so that repeated runs reuse
// memory instead of copying each output into a fresh Go slice.
func (s *Session) RunInto(inputs, outputs []ort.Value) error {
	return s.RunIntoContext(context.Background(), inputs, outputs)
}

// RunIntoContext is RunInto that ctx can stop: ONNX Runtime checks a run's
// terminate flag between nodes, so a cancelled run ends within one node
// instead of finishing work nobody waits for (a live partial that a final
// superseded mid-encoder). It returns ctx's error when ctx ended the run.
func (s *Session) RunIntoContext(ctx context.Context, inputs, outputs []ort.Value) error {
	if len(inputs) != len(s.inputs) || len(outputs) != len(s.outputs) {
		return fmt.Errorf("model %s: %d inputs and %d outputs given, want %d and %d", s.path, len(inputs), len(outputs), len(s.inputs), len(s.outputs))
	}
	err := s.run(ctx, inputs, outputs)
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // terminated
	} else if err != nil {
		return fmt.Errorf("running %s: %w", filepath.Base(s.path), err)
	}
	return nil
}

// run runs the session; when ctx can end, with run options whose
// terminate flag its end sets (a context that cannot costs nothing extra).
func (s *Session) run(ctx context.Context, inputs, outputs []ort.Value) error {
	if ctx.Done() == nil {
		return s.sess.Run(inputs, outputs)
	}
	ro, err := ort.NewRunOptions()
	if err != nil {
		return err
	}
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		ro.Terminate()
	})
	defer func() {
		if !stop() {
			<-terminated // Terminate may still be running: not before it, Destroy
		}
		ro.Destroy()
	}()
	return s.sess.RunWithOptions(inputs, outputs, ro)
}

// Close frees the session.
func (s *Session) Close() error {
	if s == nil || s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	return err
}

// Release destroys runtime values, ignoring nils.
func Release(vs ...ort.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// RunFloat32 runs a one-input model on data of the given shape and returns
// a copy of its first output, which must be a float32 tensor of rank
// len(want) whose dimensions equal want where want[i] ≥ 0.
func (s *Session) RunFloat32(data []float32, shape []int64, want []int64) ([]float32, error) {
	in, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs, err := s.Run(in)
	if err != nil {
		return nil, err
	}
	defer Release(outs...)
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, errors.New("model output is not a float32 tensor")
	}
	got := t.GetShape()
	bad := len(got) != len(want)
	for i := 0; !bad && i < len(want); i++ {
		bad = want[i] >= 0 && got[i] != want[i]
	}
	if bad {
		return nil, fmt.Errorf("%s: output shape %v, want %v", filepath.Base(s.path), got, want)
	}
	return append([]float32(nil), t.GetData()...), nil
}
