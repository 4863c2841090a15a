package whisper

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

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
	if m.enc, err = onnx.Open(filepath.Join(cfg.Dir, EncoderFile), []string{"mel"}, []string{"cross_k", "cross_v"}, opt); err != nil {
		return nil, err
	}
	if m.dec, err = openDecoder(filepath.Join(cfg.Dir, DecoderFile), cfg.Threads); err != nil {
		m.enc.Close()
		return nil, err
	}
	return m, nil
}

// openDecoder opens the decoder directly rather than through onnx.Open:
// the decoding loop hands ONNX Runtime preallocated output tensors (the KV
// caches it swaps step to step), which onnx.Session.Run does not offer.
// The settings are onnx.Open's.
func openDecoder(path string, threads int) (*ort.DynamicAdvancedSession, error) {
	if err := onnx.Init(""); err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := errors.Join(so.SetIntraOpNumThreads(threads), so.SetInterOpNumThreads(1),
		so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll)); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSession(path,
		[]string{"tokens", "self_k_cache", "self_v_cache", "cross_k", "cross_v", "offset"},
		[]string{"logits", "new_self_k_cache", "new_self_v_cache", "alignment_qk"}, so)
	if err != nil {
		return nil, fmt.Errorf("opening model %s: %w", path, err)
	}
	return s, nil
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
func (m *Model) LogMel(samples []float32) []float32 { return m.fe.LogMel(samples) }

// ModelConfig returns the model's config.json.
func (m *Model) ModelConfig() *ModelConfig { return m.mc }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// Multilingual reports whether the model knows languages other than English.
func (m *Model) Multilingual() bool { return m.mc.Multilingual }

// encoded is one window's encoder output: the decoder layers'
// cross-attention keys and values, [L, 1, 1500, D] each.
type encoded struct {
	k, v ort.Value
}

func (e *encoded) release() {
	if e != nil {
		onnx.Release(e.k, e.v)
		e.k, e.v = nil, nil
	}
}

// encode runs the encoder on one or more 80×3000 windows in one call.
func (m *Model) encode(mels ...[]float32) ([]*encoded, error) {
	b := len(mels)
	data := make([]float32, 0, b*NMels*WindowFrames)
	for _, x := range mels {
		if len(x) != NMels*WindowFrames {
			return nil, fmt.Errorf("whisper: mel has %d values, want 80×3000", len(x))
		}
		data = append(data, x...)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(b), NMels, WindowFrames), data)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs, err := m.enc.Run(in)
	if err != nil {
		return nil, err
	}
	if b == 1 {
		return []*encoded{{k: outs[0], v: outs[1]}}, nil
	}
	// Split [L, B, 1500, D] into B tensors of [L, 1, 1500, D].
	defer onnx.Release(outs...)
	L, D := int64(m.mc.Dims.NTextLayer), int64(m.mc.Dims.NTextState)
	res := make([]*encoded, b)
	for i := range res {
		res[i] = &encoded{}
	}
	for j, o := range outs {
		src := o.(*ort.Tensor[float32]).GetData()
		per := AudioCtx * D
		for i := range b {
			t, err := ort.NewEmptyTensor[float32](ort.NewShape(L, 1, AudioCtx, D))
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
