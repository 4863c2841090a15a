package live

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkSession streams the sample conversation through one session in
// 100 ms frames; it reports the real-time factor (wall per audio second).
func BenchmarkSession(b *testing.B) {
	e := testEngine(b, DefaultConfig())
	samples := loadSamples(b, samplePath())
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		run(b, e, samples, 1600)
	}
	audio := float64(len(samples)) / SampleRate * float64(b.N)
	b.ReportMetric(time.Since(start).Seconds()/audio, "rtf")
}

// BenchmarkConcurrentSessions runs n sessions at once as fast as they go,
// with and without cross-session batching (batch size, concurrent model
// calls; 0 = one per core). "streams" is the audio seconds
// processed per wall second: how many real-time streams the machine would
// carry at full load.
func BenchmarkConcurrentSessions(b *testing.B) {
	samples := loadSamples(b, samplePath())
	for _, bc := range [][2]int{{1, 0}, {4, 0}, {8, 0}, {4, 4}} {
		cfg := DefaultConfig()
		cfg.BatchSize, cfg.Runners = bc[0], bc[1]
		e := testEngine(b, cfg)
		for _, n := range []int{16} {
			b.Run(fmt.Sprintf("batch%d/runners%d/sessions%d", bc[0], bc[1], n), func(b *testing.B) {
				start := time.Now()
				for range b.N {
					var wg sync.WaitGroup
					for range n {
						wg.Go(func() { run(b, e, samples, 1600) })
					}
					wg.Wait()
				}
				audio := float64(len(samples)) / SampleRate * float64(b.N*n)
				b.ReportMetric(audio/time.Since(start).Seconds(), "streams")
			})
		}
	}
}
