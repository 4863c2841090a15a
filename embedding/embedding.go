// Package embedding runs the 3D-Speaker CAM++ speaker-embedding model: mean-
// normalised 80-bin Kaldi fbank frames in, one 192-dimensional voice vector
// per segment out. Clustering and voiceprints both use it.
package embedding

import (
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/whospoke/whospoke/onnx"
)

// Dim is the embedding size; MelBins the feature size the model takes;
// MinFrames the fewest frames it embeds reliably (its graph takes a std over
// time after a stride-2 layer).
const (
	Dim       = 192
	MelBins   = 80
	MinFrames = 10
)

// ModelName names the model in voiceprints, so that vectors from another
// model are never compared with these.
const ModelName = "3dspeaker-campplus-zh-en"

// Config configures the embedding model.
type Config struct {
	Model   string // path to model.onnx
	Threads int    // intra-op threads (0 = all cores)
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Model == "" {
		return errors.New("embedding: no model path")
	}
	if c.Threads < 0 {
		return fmt.Errorf("embedding: threads %d < 0", c.Threads)
	}
	if _, err := os.Stat(c.Model); err != nil {
		return fmt.Errorf("embedding model: %w", err)
	}
	return nil
}

// Model is a loaded embedding model; safe for concurrent use.
type Model struct {
	sess *onnx.Session
}

// New loads the model.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := onnx.Open(cfg.Model, []string{"feats"}, []string{"embs"}, onnx.Options{Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	return &Model{sess: s}, nil
}

// Close frees the model.
func (m *Model) Close() error { return m.sess.Close() }

// Embed embeds n segments of t frames each (feats is n×t×80, each segment
// already mean-normalised) and returns n×192 raw (not normalised) vectors.
// Segments in one call must have equal length: zero padding would change the
// model's statistics pooling.
func (m *Model) Embed(feats []float32, n, t int) ([]float32, error) {
	if n < 1 || t < MinFrames || len(feats) != n*t*MelBins {
		return nil, fmt.Errorf("embedding: %d values for %d segments of %d frames (need ≥ %d frames)", len(feats), n, t, MinFrames)
	}
	return m.sess.RunFloat32(feats, []int64{int64(n), int64(t), MelBins}, []int64{int64(n), Dim})
}

// Normalize scales v to unit length in place (a zero vector stays zero).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Cosine is the cosine similarity of a and b.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
