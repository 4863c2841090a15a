package whisper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/whospoke/whospoke/onnx"
)

// Model is a loaded Whisper model. Its methods may be called concurrently:
// each call owns its decoder state.
type Model struct {
	cfg     Config
	mc      *ModelConfig
	tok     *Tokenizer
	filters *melFilters
	fe      *FrontEnd
	enc     *onnx.Session
	dec     *ort.DynamicAdvancedSession
	dyn     bool // the variable-length encoder and decoder are loaded
	// rewired: the decoder takes per-layer caches and cross-attention
	// inputs laid out once per window (rewire.go).
	rewired bool

	suppress []int // suppress_tokens ∪ always_suppress_also
}

// New loads the model cfg names.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mc, err := loadModelConfig(cfg.Dir)
	if err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, mc: mc}
	if m.tok, err = loadTokenizer(cfg.Dir, mc.Special.EOT, mc.Special.TimestampBegin); err != nil {
		return nil, err
	}
	if m.fe, err = NewFrontEnd(cfg.Dir); err != nil {
		return nil, err
	}
	m.filters = m.fe.filters
	m.suppress = append(append([]int(nil), mc.SuppressTokens...), mc.AlwaysSuppress...)
	opt := onnx.Options{Threads: cfg.Threads}
	encFile, decFile := EncoderFile, DecoderFile
	if m.dyn = cfg.variableWindow(); m.dyn {
		encFile, decFile = DynEncoderFile, DynDecoderFile
	}
	if m.enc, err = onnx.Open(filepath.Join(cfg.Dir, encFile), []string{"mel"}, []string{"cross_k", "cross_v"}, opt); err != nil {
		return nil, err
	}
	if m.dec, m.rewired, err = m.openDecoder(filepath.Join(cfg.Dir, decFile), cfg.Threads, cfg.Spin); err != nil {
		m.enc.Close()
		return nil, err
	}
	return m, nil
}

// The exported decoder's inputs and outputs, in the order step passes them.
var (
	exportedInputs  = []string{"tokens", "self_k_cache", "self_v_cache", "cross_k", "cross_v", "offset"}
	exportedOutputs = []string{"logits", "new_self_k_cache", "new_self_v_cache", "alignment_qk"}
)

// openDecoder opens the decoder directly rather than through onnx.Open:
// the decoding loop hands ONNX Runtime preallocated output tensors (the KV
// caches it swaps step to step), which onnx.Session.Run does not offer.
// The settings are onnx.Open's, but for spinning. The graph is rewired
// (rewire.go) unless it is not the export rewireDecoder knows.
func (m *Model) openDecoder(path string, threads int, spin bool) (s *ort.DynamicAdvancedSession, rewired bool, err error) {
	if err := onnx.Init(""); err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("model %s: %w (install models with `whospoke models install`)", path, err)
	}
	d := m.mc.Dims
	inputs, outputs := exportedInputs, exportedOutputs
	if r, err := rewireDecoder(data, d.NTextLayer, d.NTextHead, d.NTextState); err == nil {
		data, rewired = r, true
		inputs, outputs = decoderNames(d.NTextLayer)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, false, err
	}
	defer so.Destroy()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	// A decoder step is a hundred small operations on one token: idle
	// intra-op threads spinning between them burned a third of Whisper's
	// CPU time on a shared machine, same text (BENCHMARKS.md,
	// "Transcription"), so they sleep unless Config.Spin says the cores
	// are the decoder's.
	spinning := "0"
	if spin {
		spinning = "1"
	}
	if err := errors.Join(so.SetIntraOpNumThreads(threads), so.SetInterOpNumThreads(1),
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning),
		so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll)); err != nil {
		return nil, false, err
	}
	if rewired {
		s, err = sessionViaFile(data, inputs, outputs, so)
		// The file and its rewired copy (2 × 28 MB for tiny.en) are
		// garbage now: hand them back before diarization or decoding
		// makes its own peak on top of them.
		debug.FreeOSMemory()
	} else {
		s, err = ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	}
	if err != nil {
		return nil, false, fmt.Errorf("opening model %s: %w", path, err)
	}
	return s, rewired, nil
}

// sessionViaFile opens the rewired decoder from a temporary file rather
// than from memory: ONNX Runtime 1.30 keeps about one more copy of the
// weights (28 MB for tiny.en's decoder) after loading a model from bytes.
// Where no temporary file can be made (a read-only system), from memory.
func sessionViaFile(data []byte, inputs, outputs []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
	f, err := os.CreateTemp("", "whospoke-decoder-*.onnx")
	if err != nil {
		return ort.NewDynamicAdvancedSessionWithONNXData(data, inputs, outputs, so)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	return ort.NewDynamicAdvancedSession(f.Name(), inputs, outputs, so)
}

// Close frees the sessions.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	var err error
	if m.enc != nil {
		err = m.enc.Close()
		m.enc = nil
	}
	if m.dec != nil {
		err = errors.Join(err, m.dec.Destroy())
		m.dec = nil
	}
	return err
}

// LogMel is the front end of one 30 s window (see FrontEnd.LogMel).
func (m *Model) LogMel(samples []float32) ([]float32, error) { return m.fe.LogMel(samples) }

// ModelConfig returns the model's config.json.
func (m *Model) ModelConfig() *ModelConfig { return m.mc }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// VariableWindow reports whether the model loaded the variable-length
// encoder and decoder, so that windows shorter than 30 s are possible
// (Options.WindowFrames, ClipOptions.Short).
func (m *Model) VariableWindow() bool { return m.dyn }

// Multilingual reports whether the model knows languages other than English.
func (m *Model) Multilingual() bool { return m.mc.Multilingual }

// encoded is one window's encoder output: the decoder layers'
// cross-attention keys and values, [L, 1, ctx, D] each, where ctx is the
// number of encoder positions: half the window's mel frames (1500 for 30 s).
type encoded struct {
	k, v ort.Value
	ctx  int
	// layered are the rewired decoder's per-layer inputs (crossLayout).
	layered []*onnx.CTensor
}

func (e *encoded) release() {
	if e != nil {
		onnx.Release(e.k, e.v)
		e.k, e.v = nil, nil
		e.releaseLayered()
	}
}

func (e *encoded) releaseLayered() {
	for _, t := range e.layered {
		t.Destroy()
	}
	e.layered = nil
}

// laidOut completes freshly encoded windows for the decoder: the rewired
// one's per-layer inputs. On failure it releases them all.
func (m *Model) laidOut(es ...*encoded) ([]*encoded, error) {
	if !m.rewired {
		return es, nil
	}
	for _, e := range es {
		if err := m.crossLayout(e); err != nil {
			for _, e := range es {
				e.release()
			}
			return nil, err
		}
	}
	return es, nil
}

// encode runs the encoder on one or more windows of equal width in one
// call: 80×3000 values each, or 80×frames (frames even, at most 3000) with
// the variable-length encoder.
func (m *Model) encode(mels ...[]float32) ([]*encoded, error) {
	b := len(mels)
	frames := len(mels[0]) / NMels
	if err := m.checkWindow(frames); err != nil {
		return nil, err
	}
	data := make([]float32, 0, b*NMels*frames)
	for _, x := range mels {
		if len(x) != NMels*frames {
			return nil, fmt.Errorf("whisper: mel has %d values, want 80×%d", len(x), frames)
		}
		data = append(data, x...)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(b), NMels, int64(frames)), data)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs, err := m.enc.Run(in)
	if err != nil {
		return nil, err
	}
	ctx := frames / 2
	if b == 1 {
		return m.laidOut(&encoded{k: outs[0], v: outs[1], ctx: ctx})
	}
	defer onnx.Release(outs...)
	es, err := m.splitBatch(outs, b, ctx)
	if err != nil {
		return nil, err
	}
	return m.laidOut(es...)
}

// encodeInto encodes one window (as encode) into reuse's tensors when their
// width matches, so a long transcription keeps one spare cross-attention
// K/V pair instead of copying each window's into fresh Go memory; reuse
// may be nil, and is released when it does not fit.
func (m *Model) encodeInto(ctx context.Context, mel []float32, reuse *encoded) (*encoded, error) {
	frames := len(mel) / NMels
	if err := m.checkWindow(frames); err != nil {
		return nil, err
	}
	if len(mel) != NMels*frames {
		return nil, fmt.Errorf("whisper: mel has %d values, want 80×%d", len(mel), frames)
	}
	e := reuse
	if e == nil || e.k == nil || e.ctx != frames/2 {
		reuse.release()
		shape := ort.NewShape(int64(m.mc.Dims.NTextLayer), 1, int64(frames/2), int64(m.mc.Dims.NTextState))
		k, err := onnx.NewCTensor(shape)
		if err != nil {
			return nil, err
		}
		v, err := onnx.NewCTensor(shape)
		if err != nil {
			k.Destroy()
			return nil, err
		}
		e = &encoded{k: k, v: v, ctx: frames / 2}
	}
	in, err := ort.NewTensor(ort.NewShape(1, NMels, int64(frames)), mel)
	if err != nil {
		e.release()
		return nil, err
	}
	defer in.Destroy()
	if err := m.enc.RunIntoContext(ctx, []ort.Value{in}, []ort.Value{e.k, e.v}); err != nil {
		e.release()
		return nil, err
	}
	es, err := m.laidOut(e)
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// checkWindow checks an encoder window width in mel frames.
func (m *Model) checkWindow(frames int) error {
	switch {
	case frames == WindowFrames:
		return nil
	case !m.dyn:
		return fmt.Errorf("whisper: a %d-frame window needs %s and %s in the model folder; this model takes 80×3000 mel windows", frames, DynEncoderFile, DynDecoderFile)
	case frames < 2 || frames > WindowFrames || frames%2 != 0:
		// An odd width would give (frames+1)/2 positions: keep ctx = frames/2.
		return fmt.Errorf("whisper: window of %d mel frames; want an even number from 2 to 3000", frames)
	}
	return nil
}

// splitBatch splits the encoder's [L, B, ctx, D] outputs into B windows of
// [L, 1, ctx, D].
func (m *Model) splitBatch(outs []ort.Value, b, ctx int) ([]*encoded, error) {
	L, D := int64(m.mc.Dims.NTextLayer), int64(m.mc.Dims.NTextState)
	res := make([]*encoded, b)
	for i := range res {
		res[i] = &encoded{ctx: ctx}
	}
	per := int64(ctx) * D
	for j, o := range outs {
		src := o.(*ort.Tensor[float32]).GetData()
		for i := range b {
			t, err := ort.NewEmptyTensor[float32](ort.NewShape(L, 1, int64(ctx), D))
			if err != nil {
				for _, r := range res {
					r.release()
				}
				return nil, err
			}
			dst := t.GetData()
			for l := range L {
				copy(dst[l*per:(l+1)*per], src[(l*int64(b)+int64(i))*per:])
			}
			if j == 0 {
				res[i].k = t
			} else {
				res[i].v = t
			}
		}
	}
	return res, nil
}
