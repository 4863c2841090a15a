package stream

import (
	"errors"

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
	return &Engine{cfg: cfg, models: m, fbank: features.NewFbank()}, nil
}

// Config returns the engine's settings.
func (e *Engine) Config() Config { return e.cfg }
