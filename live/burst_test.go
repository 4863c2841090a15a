package live

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/internal/testenv"
)

// TestLockstepBurst shows where a stream's work falls and what that does to
// streams started together (the lockstep capacity benchmark in
// e2e/live_test.go): it measures the CPU of every 100 ms frame of one
// session on the benchmark's file at each chunk phase (real models, one
// intra-op thread, as the server runs them), then replays n such streams
// started 0.5 s/n apart through a model of 2 cores, once with every stream
// at phase 0 and once with the phases in turn, as an engine deals them.
// The model leaves out batching, the network and the clients; it shows the
// burst structure, not the server's latency.
//
//	WHOSPOKE_LIVE_BURST=1 go test -run 'TestLockstepBurst$' -v ./live/
func TestLockstepBurst(t *testing.T) {
	if os.Getenv("WHOSPOKE_LIVE_BURST") == "" {
		t.Skip("set WHOSPOKE_LIVE_BURST=1")
	}
	e := testEngine(t, DefaultConfig())
	samples := loadSamples(t, filepath.Join(testenv.DevSet(t, "sim/sim01_2spk.wav"), "sim/sim01_2spk.wav"))
	phases := int(e.phases())
	frameCPU(t, e, samples, 0) // warm-up
	costs := make([][]time.Duration, phases)
	for p := range costs {
		costs[p] = frameCPU(t, e, samples, p)
		var total time.Duration
		steps := make([]time.Duration, phases)
		for f, c := range costs[p] {
			total += c
			if f%framesPerStep == framesPerStep-1 {
				steps[f/framesPerStep%phases] += c
			}
		}
		ms := make([]string, phases)
		for i := range steps {
			ms[i] = fmt.Sprintf("%.1f", (steps[i]/time.Duration(len(costs[p])/framesPerStep/phases)).Seconds()*1000)
		}
		t.Logf("phase %d: %.3f CPU-s per audio-s; mean step CPU by step mod %d: %s ms", p, total.Seconds()/(float64(len(samples))/SampleRate), phases, strings.Join(ms, " / "))
	}
	for _, n := range []int{15, 20, 25} {
		for _, turn := range []bool{false, true} {
			lat, peak := lockstepQueue(costs, n, turn)
			how := "all at phase 0"
			if turn {
				how = "phases in turn"
			}
			t.Logf("%d streams, %s: step latency p50 %v p95 %v max %v; most CPU arriving in one 0.5 s: %.2f s (2 cores give 1 s)",
				n, how, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), peak.Seconds())
		}
	}
}

// framesPerStep is the 100 ms frames per 0.5 s step.
const framesPerStep = 5

// frameCPU streams samples through one session at the given chunk phase in
// 100 ms frames and returns the process CPU time of each Push.
func frameCPU(t *testing.T, e *Engine, samples []float32, phase int) []time.Duration {
	s := e.NewSession(WithChunkPhase(phase))
	var out []time.Duration
	for off := 0; off+1600 <= len(samples); off += 1600 {
		c0 := cpuTime()
		if _, err := s.Push(context.Background(), samples[off:off+1600]); err != nil {
			t.Fatal(err)
		}
		out = append(out, cpuTime()-c0)
	}
	s.Flush(context.Background())
	return out
}

// lockstepQueue replays n streams, stream i starting (i+1)·0.5 s/n in and
// sending a frame every 100 ms, on 2 cores that take frames first come
// first served, each stream's in order. It returns the sorted latencies of
// the frames that end a step (arrival to done) and the most CPU arriving
// in any 0.5 s.
func lockstepQueue(costs [][]time.Duration, n int, turn bool) (lat []time.Duration, peak time.Duration) {
	type job struct {
		at     time.Duration
		stream int
		frame  int
	}
	var jobs []job
	phase := func(i int) int {
		if turn {
			return i % len(costs)
		}
		return 0
	}
	for i := range n {
		for f := range costs[phase(i)] {
			jobs = append(jobs, job{time.Duration(i+1)*500*time.Millisecond/time.Duration(n) + time.Duration(f)*100*time.Millisecond, i, f})
		}
	}
	slices.SortFunc(jobs, func(a, b job) int { return int(a.at - b.at) })
	cores := make([]time.Duration, 2)
	last := make([]time.Duration, n)
	window := map[time.Duration]time.Duration{}
	for _, j := range jobs {
		cost := costs[phase(j.stream)][j.frame]
		core := 0
		if cores[1] < cores[0] {
			core = 1
		}
		done := max(j.at, last[j.stream], cores[core]) + cost
		cores[core], last[j.stream] = done, done
		if j.frame%framesPerStep == framesPerStep-1 {
			lat = append(lat, done-j.at)
		}
		window[j.at/(500*time.Millisecond)] += cost
	}
	for _, w := range window {
		peak = max(peak, w)
	}
	slices.Sort(lat)
	return lat, peak
}
