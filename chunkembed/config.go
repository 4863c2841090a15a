// Package chunkembed embeds the local speakers of segmentation output — the
// 10 s windows of a file or the rolling buffers of a live stream — from one
// grid of fixed-length chunks: each chunk is embedded at most once and
// pooled into every local speaker that speaks alone in it; a local speaker
// with no such chunk is embedded from its own speech. The offline pipeline
// (diarize) and the live session both use it, with the settings of Config.
package chunkembed

import (
	"errors"
	"fmt"
	"math"

	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
)

// Config says how local speakers get their embeddings.
//
// Why chunks: a 1 s segmentation step makes every second of audio part of
// ten windows, and embedding each pair's audio separately spends 87 % of the
// time re-embedding the same speech (docs/METHODS.md). Instead the audio is cut
// once into fixed chunks on one grid; each chunk is embedded at most once and
// pooled into every local speaker that speaks alone in it. Measured offline
// on dev (collar 0, real/sim): 2 s chunks every 1 s 22.1/19.5 at RTF 0.039;
// 1.5 s every 0.75 s 22.2/21.9; 3 s every 1 s 23.9/22.3; per-pair embeddings
// 22.7/18.1 at RTF 0.109 (BENCHMARKS.md).
type Config struct {
	ChunkSeconds float64 // chunk length
	HopSeconds   float64 // chunk grid step
	// MinSolo is the share of a chunk's frames in which the local speaker
	// must speak alone for the chunk to represent it; MaxOther caps the
	// share in which anyone else speaks.
	MinSolo, MaxOther float64
	// MinFallbackSeconds: a local speaker with no clean chunk is embedded
	// from its own speech if it has at least this much; less is too short
	// to identify.
	MinFallbackSeconds float64
	Batch              int // chunks per model call
}

// DefaultConfig returns the settings measured best for files.
func DefaultConfig() Config {
	return Config{ChunkSeconds: 2, HopSeconds: 1, MinSolo: 0.5, MaxOther: 0.15, MinFallbackSeconds: 0.25, Batch: 16}
}

// LiveConfig returns the settings measured best for live streams, which
// differ from the offline ones where a stream's costs differ:
//   - HopSeconds 2: back-to-back chunks rather than offline's overlapping
//     ones halve their cost at no loss of live DER (docs/STREAMING_BENCH.md);
//   - MinSolo 0.25, MaxOther 0.35: a live local speaker without a chunk costs
//     an embedding of its own every step, and these looser shares took a
//     fifth of those off at no loss of DER;
//   - MinFallbackSeconds 0.3: the live engine's value from its start, never
//     tuned apart from offline's 0.25 (docs/STREAMING_BENCH.md).
func LiveConfig() Config {
	return Config{ChunkSeconds: 2, HopSeconds: 2, MinSolo: 0.25, MaxOther: 0.35, MinFallbackSeconds: 0.3, Batch: 16}
}

// Validate checks the settings.
func (c Config) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(c.ChunkSeconds) || c.ChunkSeconds < 0.5 || c.ChunkSeconds > 10:
		return fmt.Errorf("embedding chunk %.3gs outside 0.5..10 s", c.ChunkSeconds)
	case !finite(c.HopSeconds) || c.HopSeconds <= 0 || c.HopSeconds > c.ChunkSeconds:
		return fmt.Errorf("embedding hop %.3gs outside (0, chunk]", c.HopSeconds)
	case !(c.MinSolo > 0 && c.MinSolo <= 1 && c.MaxOther >= 0 && c.MaxOther <= 1):
		return errors.New("embedding MinSolo/MaxOther must be shares in (0,1]/[0,1]")
	case !finite(c.MinFallbackSeconds) || c.MinFallbackSeconds < 0.1 || c.MinFallbackSeconds > c.ChunkSeconds:
		return fmt.Errorf("embedding min fallback %.3gs outside 0.1 s..chunk", c.MinFallbackSeconds)
	case c.Batch < 1:
		return fmt.Errorf("embedding batch %d < 1", c.Batch)
	}
	return nil
}

// shift is the samples per fbank frame shift: chunk geometry is kept on that
// grid, so that a chunk's frames are frames of the whole stream's.
const shift = features.FrameShift

// Grid returns the chunk grid the settings describe.
func (c Config) Grid() Grid {
	return Grid{
		Length:   int64(math.Round(c.ChunkSeconds*segmentation.SampleRate/shift)) * shift,
		Hop:      int64(math.Round(c.HopSeconds*segmentation.SampleRate/shift)) * shift,
		MinSolo:  c.MinSolo,
		MaxOther: c.MaxOther,
	}
}
