package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/internal/testenv"
)

// `whospoke stream` against `whospoke serve`: every event one JSON line, the
// RTTM of the sample with its two speakers; and, with the server's
// real-time limit on, --pace max refused with the server's reason.
func TestStreamCommand(t *testing.T) {
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env, "--live-max-ahead", "0")
	rttm := filepath.Join(t.TempDir(), "sample.rttm")
	cmd := exec.Command(bin, "stream", sampleWAV(t), "--url", n.URL, "--key", key, "--pace", "max", "--rttm", rttm)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stream: %v\n%s\nserver:\n%s", err, stderrOf(err), n.Logs())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	starts, ends := 0, 0
	for _, l := range lines {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Timestamp *float64 `json:"timestamp"`
				Speaker   string   `json:"speaker"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		switch ev.Type {
		case "diarization_speaker_start":
			starts++
		case "diarization_speaker_end":
			ends++
		default:
			t.Fatalf("unexpected event %s", l)
		}
		if ev.Data.Timestamp == nil || !strings.HasPrefix(ev.Data.Speaker, "SPEAKER_") {
			t.Fatalf("event %s lacks timestamp or speaker", l)
		}
	}
	if starts == 0 || starts != ends {
		t.Fatalf("%d starts, %d ends", starts, ends)
	}
	f, err := os.Open(rttm)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	as, err := annotation.ReadRTTM(f)
	if err != nil || len(as) != 1 || len(as[0].Labels()) != 2 || len(as[0].Turns) != starts {
		t.Fatalf("rttm: %v %+v", err, as)
	}

	limited := serve(t, []string{"WHOSPOKE_DATA=" + data}, "--addr", "127.0.0.1:0")
	_, err = exec.Command(bin, "stream", sampleWAV(t), "--url", limited.URL, "--key", key, "--pace", "max").Output()
	if err == nil || !strings.Contains(string(stderrOf(err)), "faster than real time") {
		t.Fatalf("--pace max with the limit on: %v %s", err, stderrOf(err))
	}
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// BenchmarkLiveCapacity feeds one `whospoke serve` (default live settings
// but for the per-team limit) with N concurrent `whospoke stream --pace
// realtime` processes, for each N in $WHOSPOKE_LIVE_STREAMS (default
// 1,10,20). It reports the event latency p50/p95 (from the server's
// histogram), frames sent vs processed, the server's resident memory per
// stream and CPU per second of audio.
//
// Independent streams start at unrelated times and carry unrelated speech,
// so by default stream i plays the 84 s dev file rotated by i/N of its
// length and starts i/N of 2 s after the first: 2 s is the period of the
// engine's work (0.5 s steps, a 2 s embedding chunk every fourth step), so
// the starts cover every phase of it. WHOSPOKE_LIVE_LOCKSTEP=1 measures the
// correlated worst case instead: the same audio for all, started within
// one 0.5 s step, so every stream reaches its busy passages together (the
// server's sessions take the chunk grid's phases in turn, live/phase.go, so
// their chunk embeddings still fall on four different steps).
//
//	go test -run XXX -bench LiveCapacity -benchtime 1x -timeout 60m ./e2e/
func BenchmarkLiveCapacity(b *testing.B) {
	dev := testenv.DevSet(b)
	file := filepath.Join(dev, "sim", "sim01_2spk.wav")
	counts := []int{1, 10, 20}
	if v := os.Getenv("WHOSPOKE_LIVE_STREAMS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatal(err)
			}
			counts = append(counts, n)
		}
	}
	data := b.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(b, env)
	n := serve(b, env, "--live-streams", "1000")
	idle := rss(b, n.cmd.Process.Pid)
	for _, count := range counts {
		b.Run(fmt.Sprint("streams", count), func(b *testing.B) {
			before := scrape(b, n.URL)
			cpu0 := cpuTime(b, n.cmd.Process.Pid)
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				sent    int
				clients time.Duration // CPU time of the client processes
				failed  []string
				peak    int64
				stopRSS = make(chan struct{})
				rssDone = make(chan struct{})
			)
			go func() {
				defer close(rssDone)
				tick := time.NewTicker(500 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stopRSS:
						return
					case <-tick.C:
						peak = max(peak, rss(b, n.cmd.Process.Pid))
					}
				}
			}()
			framesRe := regexp.MustCompile(`: (\d+) frames`)
			lockstep := os.Getenv("WHOSPOKE_LIVE_LOCKSTEP") != ""
			spread, files := 2*time.Second, make([]string, count)
			for i := range files {
				files[i] = file
				if !lockstep && i > 0 {
					files[i] = rotatedWAV(b, file, float64(i)/float64(count))
				}
			}
			if lockstep {
				spread = 500 * time.Millisecond
			}
			start := time.Now()
			for i := range count {
				time.Sleep(spread / time.Duration(count))
				wg.Go(func() {
					cmd := exec.Command(bin, "stream", files[i], "--url", n.URL, "--key", key, "--pace", "realtime")
					cmd.Stdout = io.Discard
					var stderr strings.Builder
					cmd.Stderr = &stderr
					err := cmd.Run()
					mu.Lock()
					defer mu.Unlock()
					if cmd.ProcessState != nil {
						clients += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
					}
					if m := framesRe.FindStringSubmatch(stderr.String()); m != nil {
						k, _ := strconv.Atoi(m[1])
						sent += k
					}
					if err != nil {
						failed = append(failed, fmt.Sprintf("client %d: %v %s", i, err, stderr.String()))
					}
				})
			}
			wg.Wait()
			wall := time.Since(start)
			close(stopRSS)
			<-rssDone
			after := scrape(b, n.URL)
			serverCPU := cpuTime(b, n.cmd.Process.Pid) - cpu0
			for _, f := range failed {
				b.Error(f)
			}
			lat := diffHist(after.latency, before.latency)
			p50, p95 := quantile(lat, 0.5), quantile(lat, 0.95)
			processed := int(after.frames - before.frames)
			perStream := float64(peak-idle) / float64(count) / (1 << 20)
			b.ReportMetric(p50*1000, "p50-ms")
			b.ReportMetric(p95*1000, "p95-ms")
			b.ReportMetric(float64(sent-processed), "frames-lost")
			b.ReportMetric(perStream, "MiB/stream")
			// CPU per second of streamed audio, per stream.
			audioSec := float64(sent) * api.LiveFrameSamples / api.LiveSampleRate
			b.Logf("%d streams: wall %.1f s, events %d, event latency p50 %.0f ms p95 %.0f ms, frames sent %d processed %d, server RSS idle %.0f MiB peak %.0f MiB (%.1f MiB/stream), server CPU %.3f s and clients %.3f s per audio-s, %d clients failed",
				count, wall.Seconds(), int(lat.count), p50*1000, p95*1000, sent, processed,
				float64(idle)/(1<<20), float64(peak)/(1<<20), perStream,
				serverCPU.Seconds()/audioSec, clients.Seconds()/audioSec, len(failed))
		})
	}
}

// rotatedWAV writes src (16 kHz mono) rotated left by share of its length
// as 16-bit PCM WAV in a temporary folder and returns its path.
func rotatedWAV(b testing.TB, src string, share float64) string {
	a, err := audio.Open(context.Background(), src, audio.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	x, err := a.Samples(0, a.Len())
	if err != nil {
		b.Fatal(err)
	}
	cut := int(share * float64(len(x)))
	x = append(x[cut:len(x):len(x)], x[:cut]...)
	var wav bytes.Buffer
	if err := audio.WriteWAV16Header(&wav, int64(len(x))); err != nil {
		b.Fatal(err)
	}
	pcm := make([]byte, 2*len(x))
	audio.PutPCM16(pcm, x)
	wav.Write(pcm)
	path := filepath.Join(b.TempDir(), fmt.Sprintf("rotated-%.3f.wav", share))
	if err := os.WriteFile(path, wav.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// cpuTime is a process's user + system CPU time so far (/proc/PID/stat,
// fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(b testing.TB, pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rss is a process's resident set in bytes.
func rss(b testing.TB, pid int) int64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// hist is a Prometheus histogram: cumulative counts by upper bound.
type hist struct {
	bounds []float64
	counts []float64
	count  float64
}

type serverMetrics struct {
	latency hist
	frames  float64
}

// scrape reads the live metrics off /metrics.
func scrape(b testing.TB, url string) serverMetrics {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m serverMetrics
	sc := bufio.NewScanner(resp.Body)
	le := regexp.MustCompile(`^whospoke_live_event_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$`)
	for sc.Scan() {
		l := sc.Text()
		if g := le.FindStringSubmatch(l); g != nil {
			bound, _ := strconv.ParseFloat(g[1], 64)
			c, _ := strconv.ParseFloat(g[2], 64)
			m.latency.bounds = append(m.latency.bounds, bound)
			m.latency.counts = append(m.latency.counts, c)
		}
		if v, ok := strings.CutPrefix(l, "whospoke_live_event_latency_seconds_count "); ok {
			m.latency.count, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(l, `whospoke_live_frames_total{result="processed"} `); ok {
			m.frames, _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}

func diffHist(a, b hist) hist {
	d := hist{bounds: a.bounds, counts: make([]float64, len(a.counts)), count: a.count - b.count}
	for i := range a.counts {
		d.counts[i] = a.counts[i]
		if i < len(b.counts) {
			d.counts[i] -= b.counts[i]
		}
	}
	return d
}

// quantile interpolates linearly inside the bucket, as histogram_quantile does.
func quantile(h hist, q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	idx := sort.Search(len(h.counts), func(i int) bool { return h.counts[i] >= q*h.count })
	if idx >= len(h.bounds) || math.IsInf(h.bounds[idx], 1) {
		return h.bounds[len(h.bounds)-2]
	}
	lo, prev := 0.0, 0.0
	if idx > 0 {
		lo, prev = h.bounds[idx-1], h.counts[idx-1]
	}
	if h.counts[idx] == prev {
		return h.bounds[idx]
	}
	return lo + (h.bounds[idx]-lo)*(q*h.count-prev)/(h.counts[idx]-prev)
}
