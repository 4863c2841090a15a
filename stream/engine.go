package stream

import (
	"errors"
	"runtime"
	"slices"

	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
)

// Models are the loaded models an Engine shares among its sessions. The
// offline pipeline may hold the same ones: both are safe for concurrent use.
type Models struct {
	Segmentation *segmentation.Model
	Embedding    *embedding.Model
}

// LoadModels loads the models installed in dir (the layout of
// diarize.DefaultConfig) with the given intra-op threads per model call.
func LoadModels(dir string, threads int) (Models, error) {
	cfg := diarize.DefaultConfig(dir).WithThreads(threads)
	seg, err := segmentation.New(cfg.Segmentation)
	if err != nil {
		return Models{}, err
	}
	emb, err := embedding.New(cfg.Embedding)
	if err != nil {
		seg.Close()
		return Models{}, err
	}
	return Models{Segmentation: seg, Embedding: emb}, nil
}

// Close frees both models.
func (m Models) Close() error {
	var errs []error
	if m.Segmentation != nil {
		errs = append(errs, m.Segmentation.Close())
	}
	if m.Embedding != nil {
		errs = append(errs, m.Embedding.Close())
	}
	return errors.Join(errs...)
}

// Engine creates sessions that share one set of models. It is safe for
// concurrent use; each Session belongs to one goroutine at a time.
type Engine struct {
	cfg    Config
	models Models
	fbank  *features.Fbank
	// Model calls of all sessions go through these, to be batched.
	seg *batcher[[]float32, segmentation.Chunk]
	emb *batcher[embedInput, [][]float32]
}

// embedInput is one session's chunks for the embedding model: n chunks of
// equal length, fbank frames row-major, mean already subtracted.
type embedInput struct {
	feats []float32
	n     int
}

// New returns an engine running cfg on the shared models (which it does not
// own: close them after the engine's last session).
func New(cfg Config, m Models) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m.Segmentation == nil || m.Embedding == nil {
		return nil, errors.New("stream: models not loaded")
	}
	e := &Engine{cfg: cfg, models: m, fbank: features.NewFbank()}
	runners := cfg.Runners
	if runners == 0 {
		runners = runtime.GOMAXPROCS(0)
	}
	e.seg = newBatcher(cfg.BatchSize, runners, func(bufs [][]float32) ([]segmentation.Chunk, error) {
		all := bufs[0]
		if len(bufs) > 1 {
			all = slices.Concat(bufs...)
		}
		return m.Segmentation.InferChunks(all, len(bufs))
	})
	e.emb = newBatcher(cfg.BatchSize, runners, func(ins []embedInput) ([][][]float32, error) {
		n, all := 0, ins[0].feats
		for _, in := range ins {
			n += in.n
		}
		if len(ins) > 1 {
			all = make([]float32, 0, n*len(ins[0].feats)/ins[0].n)
			for _, in := range ins {
				all = append(all, in.feats...)
			}
		}
		frames := len(all) / (n * features.NumMelBins)
		out, err := m.Embedding.Embed(all, n, frames)
		if err != nil {
			return nil, err
		}
		res := make([][][]float32, len(ins))
		for i, in := range ins {
			res[i] = make([][]float32, in.n)
			for j := range in.n {
				res[i][j], out = out[:embedding.Dim:embedding.Dim], out[embedding.Dim:]
			}
		}
		return res, nil
	})
	return e, nil
}

// Config returns the engine's settings.
func (e *Engine) Config() Config { return e.cfg }
