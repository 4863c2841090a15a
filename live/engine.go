package live

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
	"github.com/whospoke/whospoke/vad"
)

// Models are the loaded models an Engine shares among its sessions. The
// offline pipeline may hold the same ones: both are safe for concurrent use.
type Models struct {
	Segmentation *segmentation.Model
	Embedding    *embedding.Model
	// VAD gates decisions to speech (Config.SpeechGate); nil: no gate.
	VAD *vad.Model
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
	v, err := vad.New(vad.DefaultConfig(dir))
	if err != nil {
		seg.Close()
		emb.Close()
		return Models{}, err
	}
	return Models{Segmentation: seg, Embedding: emb, VAD: v}, nil
}

// Close frees the models.
func (m Models) Close() error {
	var errs []error
	if m.Segmentation != nil {
		errs = append(errs, m.Segmentation.Close())
	}
	if m.Embedding != nil {
		errs = append(errs, m.Embedding.Close())
	}
	if m.VAD != nil {
		errs = append(errs, m.VAD.Close())
	}
	return errors.Join(errs...)
}

// Engine creates sessions that share one set of models. It is safe for
// concurrent use; each Session belongs to one goroutine at a time.
type Engine struct {
	cfg    Config
	models Models
	// embedder is the chunk embedder the offline pipeline uses too, with
	// the live settings (Config.Embed); its chunk batches go through emb.
	embedder *chunkembed.Embedder
	// Model calls of all sessions go through these, to be batched.
	seg *batcher[[]float32, segmentation.Chunk]
	emb *batcher[embedInput, []float32]
	// started counts the sessions that took their chunk phase in turn.
	started atomic.Uint64
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
		return nil, errors.New("live: models not loaded")
	}
	if cfg.SpeechGate > 0 && m.VAD == nil {
		return nil, errors.New("live: a speech gate needs the VAD model")
	}
	e := &Engine{cfg: cfg, models: m}
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
	e.emb = newBatcher(cfg.BatchSize, runners, func(ins []embedInput) ([][]float32, error) {
		return embedBatch(m.Embedding, ins)
	})
	var err error
	e.embedder, err = chunkembed.New(cfg.Embed, m.Embedding, func(ctx context.Context, feats []float32, n, _ int) ([]float32, error) {
		return e.emb.do(ctx, embedInput{feats: feats, n: n})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// embedBatch embeds the chunks of several sessions in one model call and
// returns each session's vectors (n·embedding.Dim values each).
func embedBatch(model *embedding.Model, ins []embedInput) ([][]float32, error) {
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
	out, err := model.Embed(all, n, frames)
	if err != nil {
		return nil, err
	}
	res := make([][]float32, len(ins))
	for i, in := range ins {
		size := in.n * embedding.Dim
		res[i], out = out[:size:size], out[size:]
	}
	return res, nil
}

// Config returns the engine's settings.
func (e *Engine) Config() Config { return e.cfg }
