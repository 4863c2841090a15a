package stream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/models"
)

// devFiles lists the dev set's real/ and sim/ recordings (wav paths).
func devFiles(t *testing.T) []string {
	dir := testenv.DevSet(t)
	var files []string
	for _, part := range []string{"real", "sim"} {
		m, _ := filepath.Glob(filepath.Join(dir, part, "*.wav"))
		files = append(files, m...)
	}
	return files
}

// envConfig applies WHOSPOKE_STREAM_CFG="DeltaNew=0.5,RhoUpdate=0.2,…" (for
// tuning sweeps) to the defaults.
func envConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	for _, kv := range strings.Split(os.Getenv("WHOSPOKE_STREAM_CFG"), ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("WHOSPOKE_STREAM_CFG %q: %v", kv, err)
		}
		switch k {
		case "Buffer":
			cfg.Buffer = x
		case "Step":
			cfg.Step = x
		case "MaxSpeakers":
			cfg.MaxSpeakers = int(x)
		case "TauActive":
			cfg.TauActive = x
		case "RhoUpdate":
			cfg.RhoUpdate = x
		case "DeltaNew":
			cfg.DeltaNew = x
		case "Onset":
			cfg.Onset = x
		case "Offset":
			cfg.Offset = x
		case "MinEmbedSeconds":
			cfg.MinEmbedSeconds = x
		case "FallbackReuse":
			cfg.FallbackReuse = int(x)
		default:
			t.Fatalf("WHOSPOKE_STREAM_CFG: unknown setting %q", k)
		}
	}
	return cfg
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestStreamDER is the streaming measurement of docs/STREAMING_BENCH.md:
// pooled DER over dev real/ + sim/ at latencies 0.5, 1 and 2 s (one pass:
// the models' work does not depend on latency), next to the offline
// pipeline's (WHOSPOKE_STREAM_OFFLINE=1), and the cost per stream.
//
//	WHOSPOKE_STREAM_EVAL=1 go test -run StreamDER -v -timeout 60m ./stream/
func TestStreamDER(t *testing.T) {
	if os.Getenv("WHOSPOKE_STREAM_EVAL") == "" {
		t.Skip("set WHOSPOKE_STREAM_EVAL=1")
	}
	cfg := envConfig(t)
	cfg.Latency = 0.5
	e := testEngine(t, cfg)
	latencies := []float64{0.5, 1, 2}
	hyps := make([][]*annotation.Annotation, len(latencies))
	var refs, offline []*annotation.Annotation
	uems := map[string]annotation.Timeline{}
	var audioSec float64
	var wall, cpu time.Duration
	var pipe *diarize.Pipeline
	if os.Getenv("WHOSPOKE_STREAM_OFFLINE") != "" {
		var err error
		pipe, err = diarize.New(diarize.DefaultConfig(models.ResolveDir("")).WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		defer pipe.Close()
	}
	for _, wav := range devFiles(t) {
		base := strings.TrimSuffix(wav, ".wav")
		ref, err := eval.ReadRTTMPath(base + ".rttm")
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref...)
		uri := ref[0].URI
		if u, err := eval.ReadUEMPath(base+".uem", nil); err == nil {
			uems[uri] = u[uri]
		}
		samples := loadSamples(t, wav)
		audioSec += float64(len(samples)) / SampleRate

		s := e.NewSession()
		for _, l := range latencies[1:] {
			s.extra = append(s.extra, &decider{latency: int64(l * SampleRate)})
		}
		t0, c0 := time.Now(), cpuTime()
		events := append(push(t, s, samples, 1600, false), s.Flush()...)
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		for i, evs := range append([][]Event{events}, s.extra[0].events, s.extra[1].events) {
			if err := CheckEvents(evs, s.Duration(), true); err != nil {
				t.Fatalf("%s latency %g: %v", uri, latencies[i], err)
			}
			a, err := ToAnnotation(uri, evs)
			if err != nil {
				t.Fatal(err)
			}
			hyps[i] = append(hyps[i], a)
		}
		if pipe != nil {
			r, err := pipe.Diarize(context.Background(), audio.FromSamples(samples), diarize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r.Diarization.URI = uri
			offline = append(offline, r.Diarization)
		}
	}
	t.Logf("config %+v", cfg)
	for _, collar := range []float64{0, 0.25} {
		opt := eval.Options{Collar: collar}
		row := func(name string, h []*annotation.Annotation) {
			rep, err := eval.Score(refs, h, uems, opt)
			if err != nil {
				t.Fatal(err)
			}
			var real, sim eval.Components
			for _, f := range rep.Files {
				if strings.HasPrefix(f.URI, "sim") {
					sim.Add(f.DER)
				} else {
					real.Add(f.DER)
				}
			}
			p := rep.Pooled.DER
			t.Logf("collar %.2f %-12s pooled %5.2f %%  real %5.2f %%  sim %5.2f %%  (miss %.1f fa %.1f conf %.1f s)",
				collar, name, 100*p.DER(), 100*real.DER(), 100*sim.DER(), p.Missed, p.FalseAlarm, p.Confusion)
		}
		for i, l := range latencies {
			row(fmt.Sprintf("latency %gs", l), hyps[i])
		}
		if offline != nil {
			row("offline", offline)
		}
	}
	t.Logf("cost: %.0f s of audio, stream wall %.1f s (RTF %.3f), CPU %.1f s (%.3f CPU-s per audio-s), GOMAXPROCS %d",
		audioSec, wall.Seconds(), wall.Seconds()/audioSec, cpu.Seconds(), cpu.Seconds()/audioSec, runtime.GOMAXPROCS(0))
}

// TestStreamMemory measures the Go heap each open stream holds after 20 s of
// conversation (steady state: the rolling buffers are full).
//
//	WHOSPOKE_STREAM_EVAL=1 go test -run StreamMemory -v ./stream/
func TestStreamMemory(t *testing.T) {
	if os.Getenv("WHOSPOKE_STREAM_EVAL") == "" {
		t.Skip("set WHOSPOKE_STREAM_EVAL=1")
	}
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const n = 4
	before := heap()
	sessions := make([]*Session, n)
	for i := range sessions {
		sessions[i] = e.NewSession()
		for off := 0; off < len(samples); off += 1600 {
			if _, err := sessions[i].Push(samples[off : off+1600]); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := heap()
	t.Logf("Go heap per open stream: %.0f KiB", float64(after-before)/n/1024)
	runtime.KeepAlive(sessions)
}
