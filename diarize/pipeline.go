// Package diarize is the offline speaker-diarization pipeline: it segments a
// recording into local speakers window by window, embeds them, clusters the
// embeddings into global speakers and reconstructs who spoke when.
package diarize

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/segmentation"
	"github.com/whospoke/whospoke/vad"
)

// Config holds every setting of the pipeline. The defaults were chosen by
// measured DER on the dev set (BENCHMARKS.md).
type Config struct {
	Segmentation segmentation.Config
	Embedding    embedding.Config
	Clustering   clustering.Config
	Embed        chunkembed.Config
	// VAD recovers speech the segmentation misses (recoverSpeech); an empty
	// path turns that off.
	VAD vad.Config
}

// DefaultConfig returns the measured-best settings for models installed in dir.
func DefaultConfig(modelsDir string) Config {
	return Config{
		Segmentation: segmentation.DefaultConfig(filepath.Join(modelsDir, "pyannote-segmentation-3.0", "model.onnx")),
		Embedding:    embedding.Config{Model: filepath.Join(modelsDir, "3dspeaker-campplus-zh-en", "model.onnx")},
		Clustering:   clustering.Config{Threshold: 0.65, MinClusterSize: 2},
		Embed:        chunkembed.DefaultConfig(),
		VAD:          vad.DefaultConfig(modelsDir),
	}
}

// WithThreads sets the thread count of both models.
func (c Config) WithThreads(n int) Config {
	c.Segmentation.Threads, c.Embedding.Threads = n, n
	return c
}

// Validate checks every part of the configuration.
func (c Config) Validate() error {
	err := errors.Join(c.Segmentation.Validate(), c.Embedding.Validate(), c.Clustering.Validate(), c.Embed.Validate())
	if c.VAD.Path != "" {
		err = errors.Join(err, c.VAD.Validate())
	}
	return err
}

// Options are per-file requests.
type Options struct {
	// NumSpeakers fixes the number of speakers (same as Min = Max).
	NumSpeakers int
	// MinSpeakers and MaxSpeakers bound the estimated count (0 = no bound).
	MinSpeakers, MaxSpeakers int
	// Progress, if set, is called as work advances: stage is "segmentation"
	// or "embedding", done of total units.
	Progress func(stage string, done, total int)
}

// Validate checks the speaker-count options.
func (o Options) Validate() error {
	switch {
	case o.NumSpeakers < 0 || o.MinSpeakers < 0 || o.MaxSpeakers < 0:
		return errors.New("speaker counts must not be negative")
	case o.MaxSpeakers > 0 && o.MinSpeakers > o.MaxSpeakers:
		return fmt.Errorf("minSpeakers (%d) must not exceed maxSpeakers (%d)", o.MinSpeakers, o.MaxSpeakers)
	case o.NumSpeakers > 0 && (o.MinSpeakers > 0 || o.MaxSpeakers > 0):
		return errors.New("numSpeakers cannot be combined with minSpeakers/maxSpeakers")
	}
	return nil
}

// Source is random-access 16 kHz mono audio (audio.Audio satisfies it).
type Source = segmentation.Source

// Pipeline is a loaded set of models; Diarize may be called concurrently.
type Pipeline struct {
	cfg   Config
	seg   *segmentation.Model
	model *embedding.Model
	emb   *chunkembed.Embedder
	vad   *vad.Model // nil: no speech recovery
}

// New loads the models.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seg, err := segmentation.New(cfg.Segmentation)
	if err != nil {
		return nil, err
	}
	model, err := embedding.New(cfg.Embedding)
	if err != nil {
		seg.Close()
		return nil, err
	}
	emb, err := chunkembed.New(cfg.Embed, model, nil)
	if err != nil {
		seg.Close()
		model.Close()
		return nil, err
	}
	p := &Pipeline{cfg: cfg, seg: seg, model: model, emb: emb}
	if cfg.VAD.Path != "" {
		if p.vad, err = vad.New(cfg.VAD); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Config returns the pipeline's configuration.
func (p *Pipeline) Config() Config { return p.cfg }

// Close frees the models.
func (p *Pipeline) Close() error {
	err := errors.Join(p.seg.Close(), p.model.Close())
	if p.vad != nil {
		err = errors.Join(err, p.vad.Close())
	}
	return err
}

// Diarize answers who spoke when in src.
func (p *Pipeline) Diarize(ctx context.Context, src Source, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	progress := func(stage string) func(int, int) {
		if opt.Progress == nil {
			return nil
		}
		return func(done, total int) { opt.Progress(stage, done, total) }
	}

	// 1. Segment: local speakers per sliding window.
	seg, err := p.seg.Run(ctx, src, progress("segmentation"))
	if err != nil {
		return nil, err
	}
	// 2. Embed each active (window, local speaker) pair.
	pairs, chunks, err := p.embed(ctx, src, seg, progress("embedding"))
	if err != nil {
		return nil, err
	}
	// 3. Cluster the pairs into global speakers, one speaker per local
	// speaker of a window.
	ccfg := p.cfg.Clustering
	ccfg.NumSpeakers, ccfg.MinSpeakers, ccfg.MaxSpeakers = opt.NumSpeakers, opt.MinSpeakers, opt.MaxSpeakers
	assign, err := clusterPairs(pairs, chunks, seg.NumWindows(), ccfg)
	if err != nil {
		return nil, err
	}
	// 4. Reconstruct frame-level speaker activity and turns, with the
	// speech the segmentation left silent that the VAD hears.
	speech, err := p.recoverSpeech(ctx, src, seg)
	if err != nil {
		return nil, err
	}
	return reconstruct(seg, assign, speech), nil
}

// ErrTooLittleSpeech is returned by EmbedSpeech for audio too short to embed.
var ErrTooLittleSpeech = chunkembed.ErrTooLittleSpeech

// EmbedSpeech returns the unit-length speaker embedding of 16 kHz samples,
// computed exactly as the pipeline embeds its chunks (fbank, per-utterance
// mean normalisation, CAM++). Voiceprints and identification use it so that
// their vectors live in the clustering's space.
func (p *Pipeline) EmbedSpeech(samples []float32) ([]float32, error) {
	return p.emb.Speech(samples)
}
