package live

import (
	"cmp"
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
	"github.com/whospoke/whospoke/bench"
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

// envConfig applies WHOSPOKE_LIVE_CFG="DeltaNew=0.5,RhoUpdate=0.2,…" (for
// tuning sweeps) to the defaults.
func envConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	for _, kv := range strings.Split(os.Getenv("WHOSPOKE_LIVE_CFG"), ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("WHOSPOKE_LIVE_CFG %q: %v", kv, err)
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
		case "SpeechGate":
			cfg.SpeechGate = x
		case "RecoverSpeech":
			cfg.RecoverSpeech = x != 0
		case "Onset":
			cfg.Onset = x
		case "Offset":
			cfg.Offset = x
		case "MinEmbedSeconds", "MinFallbackSeconds":
			cfg.Embed.MinFallbackSeconds = x
		case "ChunkSeconds":
			cfg.Embed.ChunkSeconds = x
		case "ChunkHop":
			cfg.Embed.HopSeconds = x
		case "MinSolo":
			cfg.Embed.MinSolo = x
		case "MaxOther":
			cfg.Embed.MaxOther = x
		case "FallbackReuse":
			cfg.FallbackReuse = int(x)
		default:
			t.Fatalf("WHOSPOKE_LIVE_CFG: unknown setting %q", k)
		}
	}
	return cfg
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// evalLatencies are the decision latencies TestLiveDER measures:
// WHOSPOKE_LIVE_LATENCIES="0.5,1,2" (default 1, the latency of the
// targets), one pass over the dev set each.
func evalLatencies(t *testing.T) []float64 {
	list := cmp.Or(os.Getenv("WHOSPOKE_LIVE_LATENCIES"), "1")
	var out []float64
	for _, v := range strings.Split(list, ",") {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("WHOSPOKE_LIVE_LATENCIES %q: %v", list, err)
		}
		out = append(out, x)
	}
	return out
}

// TestLiveDER is the streaming measurement of docs/STREAMING_BENCH.md:
// pooled DER over dev real/ + sim/ at each latency of evalLatencies, next
// to the offline pipeline's (WHOSPOKE_LIVE_OFFLINE=1), and the cost per
// stream; WHOSPOKE_LIVE_RTTM=DIR keeps the hypotheses.
//
//	WHOSPOKE_LIVE_EVAL=1 go test -run LiveDER -v -timeout 60m ./live/
func TestLiveDER(t *testing.T) {
	if os.Getenv("WHOSPOKE_LIVE_EVAL") == "" {
		t.Skip("set WHOSPOKE_LIVE_EVAL=1")
	}
	files := devFiles(t)
	refs, uems := devReference(t, files)
	cfg := envConfig(t)
	t.Logf("config %+v", cfg)
	type row struct {
		name string
		hyps []*annotation.Annotation
	}
	var rows []row
	for _, latency := range evalLatencies(t) {
		cfg.Latency = latency
		hyps, revised, cost := streamDev(t, testEngine(t, cfg), files)
		writeHyps(t, hyps, latency)
		rows = append(rows, row{fmt.Sprintf("latency %gs", latency), hyps}, row{fmt.Sprintf("revised %gs", latency), revised})
		t.Logf("latency %gs cost: %s", latency, cost)
	}
	if os.Getenv("WHOSPOKE_LIVE_OFFLINE") != "" {
		offline := offlineDev(t, files)
		rows = append(rows, row{"offline", offline})
		// The decomposition of the live gap: the first latency's turns
		// kept only where the offline pipeline hears speech (an oracle for
		// the live path's speech detection).
		var cut []*annotation.Annotation
		for i, h := range rows[0].hyps {
			cut = append(cut, h.Crop(offline[i].Timeline()))
		}
		rows = append(rows, row{"live∩offline", cut})
	}
	for _, collar := range []float64{0, 0.25} {
		for _, r := range rows {
			t.Logf("collar %.2f %-12s %s", collar, r.name, derRow(t, refs, r.hyps, uems, collar))
		}
	}
}

// writeHyps writes the hypotheses as RTTM files, one per file, into
// $WHOSPOKE_LIVE_RTTM/latency-L/ when that is set (for analysis beside the
// offline pipeline's RTTMs).
func writeHyps(t *testing.T, hyps []*annotation.Annotation, latency float64) {
	root := os.Getenv("WHOSPOKE_LIVE_RTTM")
	if root == "" {
		return
	}
	dir := filepath.Join(root, fmt.Sprintf("latency-%g", latency))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range hyps {
		f, err := os.Create(filepath.Join(dir, h.URI+".rttm"))
		if err != nil {
			t.Fatal(err)
		}
		err = annotation.WriteRTTM(f, h)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// devReference reads the reference turns and scored regions of the files.
func devReference(t *testing.T, files []string) ([]*annotation.Annotation, map[string]annotation.Timeline) {
	var refs []*annotation.Annotation
	uems := map[string]annotation.Timeline{}
	for _, wav := range files {
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
	}
	return refs, uems
}

// uriOf is a dev file's URI (its base name, as in its RTTM).
func uriOf(wav string) string { return strings.TrimSuffix(filepath.Base(wav), ".wav") }

// streamDev streams each file through a session in 100 ms frames and
// returns the hypotheses, the end-of-stream revisions (Session.Revise) and
// a line on the cost. The sessions take their
// chunk phases in turn, as a server's do, unless WHOSPOKE_LIVE_PHASE=P
// gives them all phase P.
func streamDev(t *testing.T, e *Engine, files []string) (hyps, revised []*annotation.Annotation, cost string) {
	var audioSec float64
	var wall, cpu, reviseCPU time.Duration
	var historyBytes int
	opts := []Option{WithHistory()}
	if v := os.Getenv("WHOSPOKE_LIVE_PHASE"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("WHOSPOKE_LIVE_PHASE %q: %v", v, err)
		}
		opts = append(opts, WithChunkPhase(p))
	}
	for _, wav := range files {
		samples := loadSamples(t, wav)
		audioSec += float64(len(samples)) / SampleRate
		s := e.NewSession(opts...)
		t0, c0 := time.Now(), cpuTime()
		events := append(push(t, s, samples, 1600, false), s.Flush(context.Background())...)
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if err := CheckEvents(events, s.Duration(), true); err != nil {
			t.Fatalf("%s: %v", wav, err)
		}
		a, err := ToAnnotation(uriOf(wav), events)
		if err != nil {
			t.Fatal(err)
		}
		hyps = append(hyps, a)
		c0 = cpuTime()
		rev, err := s.Revise(context.Background())
		reviseCPU += cpuTime() - c0
		if err != nil {
			t.Fatalf("%s: revise: %v", wav, err)
		}
		if err := CheckEvents(rev, s.Duration(), true); err != nil {
			t.Fatalf("%s: revised: %v", wav, err)
		}
		r, err := ToAnnotation(uriOf(wav), rev)
		if err != nil {
			t.Fatal(err)
		}
		revised = append(revised, r)
		historyBytes += s.HistoryBytes()
	}
	return hyps, revised, fmt.Sprintf("%.0f s of audio, stream wall %.1f s (RTF %.3f), CPU %.1f s (%.3f CPU-s per audio-s), GOMAXPROCS %d; revisions CPU %.2f s, history %.1f MB per audio hour",
		audioSec, wall.Seconds(), wall.Seconds()/audioSec, cpu.Seconds(), cpu.Seconds()/audioSec, runtime.GOMAXPROCS(0),
		reviseCPU.Seconds(), float64(historyBytes)/audioSec*3600/1e6)
}

// offlineDev diarizes each file with the offline pipeline.
func offlineDev(t *testing.T, files []string) []*annotation.Annotation {
	pipe, err := diarize.New(diarize.DefaultConfig(models.ResolveDir("")).WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	var out []*annotation.Annotation
	for _, wav := range files {
		r, err := pipe.Diarize(context.Background(), audio.FromSamples(loadSamples(t, wav)), diarize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Diarization.URI = uriOf(wav)
		out = append(out, r.Diarization)
	}
	return out
}

// derRow scores hyps: pooled, real and simulated DER and the pooled errors
// (with WHOSPOKE_LIVE_PERFILE=1, first each file's DER, errors and speaker
// counts, then the halves of the tuning rule: bench.Split's A (tuning) and
// B (confirming) of the real files).
func derRow(t *testing.T, refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline, collar float64) string {
	rep, err := eval.Score(refs, hyps, uems, eval.Options{Collar: collar})
	if err != nil {
		t.Fatal(err)
	}
	perFile := os.Getenv("WHOSPOKE_LIVE_PERFILE") != ""
	numSpeakers := func(as []*annotation.Annotation, uri string) int {
		for _, a := range as {
			if a.URI == uri {
				return len(a.Labels())
			}
		}
		return 0
	}
	var real, sim eval.Components
	halves := map[string]*eval.Components{"A": {}, "B": {}}
	for _, f := range rep.Files {
		if perFile {
			d := f.DER
			t.Logf("  %-28s %6.2f %%  miss %5.1f fa %5.1f conf %5.1f s  speakers %d (ref %d)", f.URI, 100*d.DER(),
				d.Missed, d.FalseAlarm, d.Confusion, numSpeakers(hyps, f.URI), numSpeakers(refs, f.URI))
		}
		if strings.HasPrefix(f.URI, "sim") {
			sim.Add(f.DER)
			continue
		}
		real.Add(f.DER)
		if h := halves[bench.Split[f.URI]]; h != nil {
			h.Add(f.DER)
		}
	}
	if perFile {
		for _, h := range []string{"A", "B"} {
			c := halves[h]
			t.Logf("  half %s: %5.2f %% (miss %.1f fa %.1f conf %.1f s)", h, 100*c.DER(), c.Missed, c.FalseAlarm, c.Confusion)
		}
	}
	p := rep.Pooled.DER
	return fmt.Sprintf("pooled %5.2f %%  real %5.2f %%  sim %5.2f %%  (miss %.1f fa %.1f [%.1f in silence] conf %.1f s)",
		100*p.DER(), 100*real.DER(), 100*sim.DER(), p.Missed, p.FalseAlarm, silentFA(refs, hyps, uems), p.Confusion)
}

// silentFA is the hypotheses' speaker time, summed over speakers, where the
// scored region holds no reference speech: the part of the false alarm
// that is speech detection's, not the speaker count's in overlap.
func silentFA(refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline) float64 {
	var total float64
	for _, ref := range refs {
		uem, ok := uems[ref.URI]
		if !ok {
			continue
		}
		silence := uem.Union().Minus(ref.Timeline())
		for _, h := range hyps {
			if h.URI != ref.URI {
				continue
			}
			for _, turn := range h.Crop(silence).Turns {
				total += turn.Duration()
			}
		}
	}
	return total
}

// TestLiveMemory measures the Go heap each open stream holds after 20 s of
// conversation (steady state: the rolling buffers are full).
//
//	WHOSPOKE_LIVE_EVAL=1 go test -run LiveMemory -v ./live/
func TestLiveMemory(t *testing.T) {
	if os.Getenv("WHOSPOKE_LIVE_EVAL") == "" {
		t.Skip("set WHOSPOKE_LIVE_EVAL=1")
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
			if _, err := sessions[i].Push(context.Background(), samples[off:off+1600]); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := heap()
	t.Logf("Go heap per open stream: %.0f KiB", float64(after-before)/n/1024)
	runtime.KeepAlive(sessions)
}

// TestReviseCost streams the dev files end to end, repeated, as one 10 min
// and one 1 h session and reports what Revise costs at the end of each
// (wall and CPU) and the history the session held.
//
//	WHOSPOKE_LIVE_EVAL=1 go test -run ReviseCost -v -timeout 60m ./live/
func TestReviseCost(t *testing.T) {
	if os.Getenv("WHOSPOKE_LIVE_EVAL") == "" {
		t.Skip("set WHOSPOKE_LIVE_EVAL=1")
	}
	e := testEngine(t, DefaultConfig())
	var all []float32
	for _, wav := range devFiles(t) {
		all = append(all, loadSamples(t, wav)...)
	}
	for _, minutes := range []int{10, 60} {
		s := e.NewSession(WithHistory())
		n := minutes * 60 * SampleRate
		for off := 0; off < n; off += 1600 {
			i := off % len(all)
			if _, err := s.Push(context.Background(), all[i:min(i+1600, len(all))]); err != nil {
				t.Fatal(err)
			}
		}
		s.Flush(context.Background())
		t0, c0 := time.Now(), cpuTime()
		rev, err := s.Revise(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d min session (%.0f s): Revise wall %.3f s, CPU %.3f s; %d events revised, %d speakers; history %.2f MB (%.2f MB per audio hour)",
			minutes, s.Duration(), time.Since(t0).Seconds(), (cpuTime() - c0).Seconds(), len(rev), s.NumSpeakers(),
			float64(s.HistoryBytes())/1e6, float64(s.HistoryBytes())/s.Duration()*3600/1e6)
	}
}
