package chunkembed

import (
	"context"
	"errors"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/features"
)

// BatchFunc embeds n equal-length segments of frames fbank frames each
// (row-major, mean already subtracted) and returns n·embedding.Dim values.
// The live engine passes one that merges the calls of concurrent streams.
type BatchFunc func(ctx context.Context, feats []float32, n, frames int) ([]float32, error)

// Embedder computes speaker embeddings the one way the whole service does:
// Kaldi fbank, per-segment mean normalisation, CAM++, unit length. It is safe
// for concurrent use.
type Embedder struct {
	cfg   Config
	model *embedding.Model
	batch BatchFunc
	fbank *features.Fbank
}

// ErrTooLittleSpeech is returned by EmbedSpeech for audio too short to embed.
var ErrTooLittleSpeech = errors.New("too little speech to embed")

// New returns an embedder on model; batch, if not nil, replaces the model
// for chunk batches.
func New(cfg Config, model *embedding.Model, batch BatchFunc) (*Embedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if model == nil {
		return nil, errors.New("chunkembed: no embedding model")
	}
	if batch == nil {
		batch = func(_ context.Context, feats []float32, n, frames int) ([]float32, error) {
			return model.Embed(feats, n, frames)
		}
	}
	return &Embedder{cfg: cfg, model: model, batch: batch, fbank: features.NewFbank()}, nil
}

// Config returns the embedder's settings.
func (e *Embedder) Config() Config { return e.cfg }

// Fbank returns the feature extractor whose frames the embedder takes.
func (e *Embedder) Fbank() *features.Fbank { return e.fbank }

// ChunkFrames is the number of fbank frames of one chunk.
func (e *Embedder) ChunkFrames() int { return e.fbank.NumFrames(int(e.cfg.Grid().Length)) }

// Chunks embeds the listed chunks, Batch at a time, and returns their unit
// vectors in list order. feats appends the raw fbank frames of chunk c
// (ChunkFrames of them) to dst; progress, if set, hears the count done.
func (e *Embedder) Chunks(ctx context.Context, chunks []int64, feats func(c int64, dst []float32) ([]float32, error), progress func(done, total int)) ([][]float32, error) {
	frames := e.ChunkFrames()
	per := frames * features.NumMelBins
	batch := make([]float32, 0, min(len(chunks), e.cfg.Batch)*per)
	out := make([][]float32, 0, len(chunks))
	for i, c := range chunks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := len(batch)
		var err error
		if batch, err = feats(c, batch); err != nil {
			return nil, err
		}
		features.SubtractMean(batch[start:], features.NumMelBins)
		if n := len(batch) / per; n < e.cfg.Batch && i < len(chunks)-1 {
			continue
		}
		n := len(batch) / per
		embs, err := e.batch(ctx, batch, n, frames)
		if err != nil {
			return nil, err
		}
		for j := range n {
			v := embs[j*embedding.Dim : (j+1)*embedding.Dim : (j+1)*embedding.Dim]
			embedding.Normalize(v)
			out = append(out, v)
		}
		if progress != nil {
			progress(len(out), len(chunks))
		}
		batch = batch[:0]
	}
	return out, nil
}

// Frames embeds fbank frames (row-major, not yet mean-normalised; the
// function normalises them in place) as one segment and returns its unit
// vector.
func (e *Embedder) Frames(feats []float32) ([]float32, error) {
	n := len(feats) / features.NumMelBins
	if n < embedding.MinFrames {
		return nil, ErrTooLittleSpeech
	}
	features.SubtractMean(feats, features.NumMelBins)
	v, err := e.model.Embed(feats, 1, n)
	if err != nil {
		return nil, err
	}
	embedding.Normalize(v)
	return v, nil
}

// Speech returns the unit embedding of 16 kHz samples. Voiceprints and
// identification use it so that their vectors live in the clustering's
// space.
func (e *Embedder) Speech(samples []float32) ([]float32, error) {
	if e.fbank.NumFrames(len(samples)) < embedding.MinFrames {
		return nil, ErrTooLittleSpeech
	}
	return e.Frames(e.fbank.Compute(samples, nil))
}
