package server

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/client"
	"github.com/whospoke/whospoke/live"
)

// TestLiveSoakRSS runs many live streams at once for a long time and checks
// that memory settles (RSS in the last quarter within 5 % of the second
// quarter's) and that every goroutine of the streams is gone afterwards.
// Long: it runs only with WHOSPOKE_SOAK set to the audio length per stream
// (e.g. 10m); WHOSPOKE_SOAK_STREAMS (16) and WHOSPOKE_SOAK_PACE (realtime,
// or max) tune it.
func TestLiveSoakRSS(t *testing.T) {
	length, err := time.ParseDuration(os.Getenv("WHOSPOKE_SOAK"))
	if err != nil {
		t.Skip("set WHOSPOKE_SOAK=10m (audio per stream) to run the soak")
	}
	streams, pace, paceName := 16, client.Realtime, "realtime"
	if n, err := strconv.Atoi(os.Getenv("WHOSPOKE_SOAK_STREAMS")); err == nil && n > 0 {
		streams = n
	}
	if os.Getenv("WHOSPOKE_SOAK_PACE") == "max" {
		pace, paceName = client.Max, "max"
	}
	ts := startServer(t, func(c *Config) { c.LiveMaxAhead, c.LiveStreamsPerTeam = -1, streams })
	one, err := sampleAudio(t).Samples(0, 30*16000)
	if err != nil {
		t.Fatal(err)
	}
	long := make([]float32, 0, int(length.Seconds())*16000)
	for len(long) < cap(long) {
		long = append(long, one[:min(len(one), cap(long)-len(long))]...)
	}
	// One short stream first, so that what starts on first use (store
	// connections, NATS internals) is in the baseline.
	if _, err := ts.client().Stream(context.Background(), audio.FromSamples(one[:32000]), client.StreamOptions{Pace: client.Max}); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(time.Second)
	before := runtime.NumGoroutine()

	ctx, stopSampling := context.WithCancel(context.Background())
	rss := sampleRSS(ctx, 2*time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			res, err := ts.client().Stream(context.Background(), audio.FromSamples(long), client.StreamOptions{Pace: pace})
			if err != nil {
				t.Errorf("stream %d: %v", i, err)
				return
			}
			if err := live.CheckEvents(client.SpeakerEvents(res.Events), length.Seconds(), true); err != nil {
				t.Errorf("stream %d: %v", i, err)
			}
			if len(eventsOfType(res, api.EventSpeakerStart)) == 0 {
				t.Errorf("stream %d: no turns", i)
			}
		})
	}
	wg.Wait()
	stopSampling()
	samples := <-rss
	if len(samples) < 8 {
		t.Fatalf("only %d RSS samples in %s", len(samples), time.Since(start))
	}
	q := len(samples) / 4
	second, last := maxOf(samples[q:2*q]), maxOf(samples[3*q:])
	growth := float64(last-second) / float64(second)
	t.Logf("%d streams × %s (%s pace) in %s: RSS max %d MiB in the 2nd quarter, %d MiB in the last (%+.1f %%)",
		streams, length, paceName, time.Since(start).Round(time.Second), second>>20, last>>20, 100*growth)
	if growth > 0.05 {
		t.Errorf("RSS grew %.1f %% over the soak", 100*growth)
	}
	// The streams' goroutines end with them (goleak checks the rest at
	// exit). Idle keep-alive connections of the API calls are not theirs.
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > before; time.Sleep(100 * time.Millisecond) {
		http.DefaultClient.CloseIdleConnections()
		if time.Now().After(deadline) {
			var dump strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("%d goroutines before the streams, %d after:\n%s", before, runtime.NumGoroutine(), dump.String())
		}
	}
}

// sampleRSS reads this process's resident set every period until ctx ends,
// then sends the samples (bytes).
func sampleRSS(ctx context.Context, period time.Duration) <-chan []int64 {
	out := make(chan []int64, 1)
	go func() {
		var s []int64
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- s
				return
			case <-t.C:
				if v := rssBytes(); v > 0 {
					s = append(s, v)
				}
			}
		}
	}()
	return out
}

func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func maxOf(xs []int64) int64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}
