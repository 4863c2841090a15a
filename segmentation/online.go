package segmentation

import (
	"fmt"
	"math"
)

// Chunk is the segmentation of one buffer of any length (the live path runs
// the model on short rolling buffers rather than on 10 s file windows).
type Chunk struct {
	// Probs[f][k]: probability that local speaker k is active in frame f.
	Probs [][LocalSpeakers]float32
	// Active[f][k]: the most likely powerset class's decision.
	Active [][LocalSpeakers]bool
}

// NewChunk is a chunk of frames in which nobody is active.
func NewChunk(frames int) Chunk {
	return Chunk{Probs: make([][LocalSpeakers]float32, frames), Active: make([][LocalSpeakers]bool, frames)}
}

// ChunkFrames is the number of output frames for a buffer of n samples:
// the frames of FrameSize samples every FrameStep that fit.
func ChunkFrames(n int) int {
	if n < FrameSize {
		return 0
	}
	return (n-FrameSize)/FrameStep + 1
}

// InferChunks runs n equal-length buffers (row-major in samples) in one
// batch and decodes each into its local speakers' activity. The model is
// fully convolutional/recurrent over time, so lengths other than
// WindowSamples work; the frame count is whatever the model returns.
func (m *Model) InferChunks(samples []float32, n int) ([]Chunk, error) {
	if n < 1 || len(samples)%n != 0 || len(samples)/n < FrameSize {
		return nil, fmt.Errorf("segmentation: %d samples for %d buffers", len(samples), n)
	}
	length := len(samples) / n
	logp, err := m.sess.RunFloat32(samples, []int64{int64(n), 1, int64(length)}, []int64{int64(n), -1, NumClasses})
	if err != nil {
		return nil, err
	}
	frames := len(logp) / (n * NumClasses)
	out := make([]Chunk, n)
	for i := range out {
		c := NewChunk(frames)
		decodeFrames(logp[i*frames*NumClasses:(i+1)*frames*NumClasses], c.Probs, c.Active)
		out[i] = c
	}
	return out, nil
}

// decodeFrames decodes any number of frames as decode does for a window.
func decodeFrames(logp []float32, probs [][LocalSpeakers]float32, active [][LocalSpeakers]bool) {
	for f := range probs {
		row := logp[f*NumClasses : (f+1)*NumClasses]
		best := 0
		for c := 1; c < NumClasses; c++ {
			if row[c] > row[best] {
				best = c
			}
		}
		for c := range NumClasses {
			p := float32(math.Exp(float64(row[c])))
			for k := range LocalSpeakers {
				if powerset[c][k] {
					probs[f][k] += p
				}
			}
		}
		active[f] = powerset[best]
	}
}
