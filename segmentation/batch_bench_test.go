package segmentation

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// BenchmarkInferChunksBatch: is one call on n 5 s buffers cheaper than n
// calls (the live engine's cross-stream batching)? One intra-op thread;
// WHOSPOKE_SEG_MODEL picks another model file (the int8 one).
func BenchmarkInferChunksBatch(b *testing.B) {
	model := cmp.Or(os.Getenv("WHOSPOKE_SEG_MODEL"), "../../shared/models/pyannote-segmentation-3.0/model.onnx")
	m, err := New(Config{Model: model, BatchSize: 1, Step: 1, Threads: 1})
	if err != nil {
		b.Skip(err)
	}
	defer m.Close()
	for _, n := range []int{1, 4, 8, 16} {
		buf := make([]float32, n*5*SampleRate)
		for i := range buf {
			buf[i] = float32(rand.NormFloat64() * 0.1)
		}
		b.Run(fmt.Sprint("batch", n), func(b *testing.B) {
			for range b.N {
				if _, err := m.InferChunks(buf, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/buffer")
		})
	}
}
