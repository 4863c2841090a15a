package stream

import (
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
