package live

import (
	"cmp"
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/bench"
	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/segmentation"
	"github.com/whospoke/whospoke/vad"
)

// What the models give a session (segmentation, embeddings, the VAD) does
// not depend on how its speakers are clustered, aggregated or decided, so
// a run recorded buffer by buffer replays Session.place and the decider
// exactly, every chunk phase of both channels in seconds instead of eight
// model passes (issue 16, the live confusion; BENCHMARKS.md):
//
//	for k in 0 1 2 3; do WHOSPOKE_LIVE_PHASE=$k WHOSPOKE_LIVE_STEPS=/tmp/steps/clean$k go test -run 'TestStepDump$' -timeout 30m ./live/; done
//	(the same with WHOSPOKE_DEV_SET=PHONE and /tmp/steps/phone$k)
//	WHOSPOKE_LIVE_REPLAY=/tmp/steps WHOSPOKE_LIVE_PHONE_SET=PHONE go test -run 'TestStepReplay$' -v ./live/
//
// The replay gives TestLiveDER's numbers to the hundredth at every phase
// and on both channels.

// stepRecord is one processed buffer: what Session.place takes.
type stepRecord struct {
	Start, End int64
	Heard      int64 // samples pushed when it ran
	Flush      bool  // Flush's last buffer (no decision follows it)
	Probs      [][segmentation.LocalSpeakers]float32
	Locals     []stepLocal
	Chunks     map[int64][]float32 // the chunk vectors the locals use
}

// stepLocal is a local with its fields exported for gob.
type stepLocal struct {
	Index        int
	MaxP, MeanP  float64
	Vec          []float32
	Solo, Active bool
	Uses         []chunkembed.Use
}

// stepDump is one file's recorded run.
type stepDump struct {
	URI   string
	Total int64
	VAD   []float32
	Steps []stepRecord
}

func (r *stepRecord) locals() []local {
	out := make([]local, len(r.Locals))
	for i, l := range r.Locals {
		out[i] = local{index: l.Index, maxP: l.MaxP, meanP: l.MeanP, vec: l.Vec, solo: l.Solo, active: l.Active, uses: l.Uses}
	}
	return out
}

// place runs Session.place on the recorded buffer.
func (r *stepRecord) place(s *Session) (locals []local, mapping []int) {
	locals = r.locals()
	s.chunkVecs = r.Chunks
	ch := segmentation.Chunk{Probs: r.Probs}
	mapping = s.place(&ch, locals, r.Start, r.End)
	if s.history != nil {
		s.history.record(&ch, locals, s.chunkVecs, r.Start, r.End)
	}
	s.lastEnd = r.End
	return locals, mapping
}

// TestStepDump writes $WHOSPOKE_LIVE_STEPS/<uri>.gob for each dev file at
// chunk phase $WHOSPOKE_LIVE_PHASE.
func TestStepDump(t *testing.T) {
	dir := os.Getenv("WHOSPOKE_LIVE_STEPS")
	if dir == "" {
		t.Skip("set WHOSPOKE_LIVE_STEPS")
	}
	phase, err := strconv.Atoi(os.Getenv("WHOSPOKE_LIVE_PHASE"))
	if err != nil {
		t.Fatalf("WHOSPOKE_LIVE_PHASE: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, DefaultConfig())
	for _, wav := range devFiles(t) {
		samples := loadSamples(t, wav)
		d := recordSteps(t, e.NewSession(WithChunkPhase(phase)), samples)
		d.URI = uriOf(wav)
		if d.VAD, err = testModels(t).VAD.NewStream().Push(samples); err != nil {
			t.Fatal(err)
		}
		writeGob(t, filepath.Join(dir, d.URI+".gob"), d)
	}
}

func writeGob(t *testing.T, path string, v any) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = gob.NewEncoder(f).Encode(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// recordSteps runs Session.Push's loop in 100 ms frames and Flush's last
// buffer (Session.process, recording what each buffer gives place).
func recordSteps(t *testing.T, s *Session, samples []float32) *stepDump {
	ctx := context.Background()
	d := &stepDump{}
	step := func(end int64, flush bool) {
		start := end - s.bufLen
		buf := s.audio.window(start, end)
		s.audio.computeFeats(s.engine.embedder.Fbank(), end)
		ch, err := s.segment(ctx, buf, start, end)
		if err != nil {
			t.Fatal(err)
		}
		locals := s.localSpeakers(&ch, start)
		if err := s.embed(ctx, locals, &ch, start, end); err != nil {
			t.Fatal(err)
		}
		r := stepRecord{Start: start, End: end, Heard: s.audio.total, Flush: flush, Probs: ch.Probs, Chunks: map[int64][]float32{}}
		for _, l := range locals {
			r.Locals = append(r.Locals, stepLocal{l.index, l.maxP, l.meanP, l.vec, l.solo, l.active, l.uses})
			for _, u := range l.uses {
				r.Chunks[u.Chunk] = s.chunkVecs[u.Chunk]
			}
		}
		d.Steps = append(d.Steps, r)
		s.place(&ch, locals, start, end)
		s.lastEnd = end
	}
	for off := 0; off < len(samples); off += 1600 {
		frame := samples[off:min(off+1600, len(samples))]
		s.audio.push(frame)
		if err := s.gate.push(frame); err != nil {
			t.Fatal(err)
		}
		for s.nextStep <= s.audio.total {
			step(s.nextStep, false)
			s.nextStep += s.stepLen
			s.decider.decide(&s.activity, (s.lastEnd-s.decider.latency)/gridSamples, nil)
		}
		s.trim()
	}
	if s.audio.total > s.lastEnd {
		step(s.audio.total, true)
	}
	d.Total = s.audio.total
	return d
}

// replaySteps runs a recorded file through a fresh session's place and
// decider (the session's own config) and returns its events. The speech
// gate hears, at each buffer, the VAD frames the session had heard then.
func replaySteps(s *Session, d *stepDump) []Event {
	var events []Event
	heard := 0
	feed := func(upto int64) {
		for heard < len(d.VAD) && int64(heard+1)*vad.FrameSamples <= upto {
			s.gate.add(d.VAD[heard : heard+1])
			heard++
		}
	}
	for _, r := range d.Steps {
		feed(r.Heard)
		s.audio.total = r.Heard
		r.place(s)
		if !r.Flush {
			events = s.decider.decide(&s.activity, (s.lastEnd-s.decider.latency)/gridSamples, events)
		}
	}
	feed(d.Total)
	return s.decider.finish(&s.activity, d.Total, events)
}

func loadStepDump(t *testing.T, path string) *stepDump {
	d := &stepDump{}
	readGob(t, path, d)
	return d
}

// readGob decodes the gob file at path into v (writeGob's).
func readGob(t *testing.T, path string, v any) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestStepReplay replays $WHOSPOKE_LIVE_REPLAY/{clean,phone}{0..3} (the
// channels of WHOSPOKE_LIVE_CHANNELS, default both; phone's references
// from WHOSPOKE_LIVE_PHONE_SET) with the configuration of
// WHOSPOKE_LIVE_CFG and prints, per channel, the DER of each phase and
// their mean: pooled, per half, simulations, real, and the missed / false
// alarm / confusion seconds (WHOSPOKE_LIVE_PHASES=n: only phases 0..n−1).
// WHOSPOKE_LIVE_PERFILE=1 adds each file's errors and speaker count (means
// over phases), WHOSPOKE_LIVE_ANALYSE=1 where the confusion lies
// (confusion_test.go), WHOSPOKE_LIVE_RTTM=DIR keeps the hypotheses, and
// WHOSPOKE_LIVE_ORACLE=1 replays with fixed centroids known from the start
// (oracleSession).
func TestStepReplay(t *testing.T) {
	root := os.Getenv("WHOSPOKE_LIVE_REPLAY")
	if root == "" {
		t.Skip("set WHOSPOKE_LIVE_REPLAY")
	}
	e := testEngine(t, envConfig(t))
	for _, ch := range strings.Split(cmp.Or(os.Getenv("WHOSPOKE_LIVE_CHANNELS"), "clean,phone"), ",") {
		if ch == "phone" {
			t.Setenv("WHOSPOKE_DEV_SET", os.Getenv("WHOSPOKE_LIVE_PHONE_SET"))
		}
		refs, uems := devReference(t, devFiles(t))
		var sum replayScore
		phases, _ := strconv.Atoi(cmp.Or(os.Getenv("WHOSPOKE_LIVE_PHASES"), "4"))
		for k := range phases {
			hyps := replayPhase(t, e, filepath.Join(root, fmt.Sprint(ch, k)), k)
			sc := scoreReplay(t, refs, hyps, uems)
			if dir := os.Getenv("WHOSPOKE_LIVE_RTTM"); dir != "" {
				t.Setenv("WHOSPOKE_LIVE_RTTM", filepath.Join(dir, fmt.Sprint(ch, k)))
				writeHyps(t, hyps, e.cfg.Latency)
				t.Setenv("WHOSPOKE_LIVE_RTTM", dir)
			}
			if os.Getenv("WHOSPOKE_LIVE_ANALYSE") != "" {
				logConfusion(t, fmt.Sprint(ch, k), refs, hyps, uems, sc)
			}
			t.Logf("%s phase %d: %s", ch, k, sc.line(1))
			sum.add(sc)
		}
		t.Logf("%s MEAN   : %s", ch, sum.line(float64(phases)))
		if os.Getenv("WHOSPOKE_LIVE_PERFILE") != "" {
			for _, f := range sum.files {
				c := f.c
				n := float64(phases)
				t.Logf("  %s %-26s err %5.1f s (miss %4.1f fa %4.1f conf %4.1f) speakers %.2f (ref %d)", ch, f.uri,
					(c.Missed+c.FalseAlarm+c.Confusion)/n, c.Missed/n, c.FalseAlarm/n, c.Confusion/n, f.speakers/n, f.ref)
			}
		}
	}
}

// replayPhase replays every dev file recorded in dir at chunk phase k.
func replayPhase(t *testing.T, e *Engine, dir string, k int) []*annotation.Annotation {
	var hyps []*annotation.Annotation
	for _, wav := range devFiles(t) {
		d := loadStepDump(t, filepath.Join(dir, uriOf(wav)+".gob"))
		s := e.NewSession(WithChunkPhase(k))
		if os.Getenv("WHOSPOKE_LIVE_ORACLE") != "" {
			s = oracleSession(t, e, k, d)
		}
		h, err := ToAnnotation(d.URI, replaySteps(s, d))
		if err != nil {
			t.Fatal(err)
		}
		hyps = append(hyps, h)
	}
	return hyps
}

// replayScore holds the parts of a scored replay (summed over phases).
type replayScore struct {
	der            [5]float64 // pooled, half A, half B, sim, real
	miss, fa, conf float64
	files          []fileScore
}

type fileScore struct {
	uri      string
	c        eval.Components
	speakers float64
	ref      int
}

func (r *replayScore) add(o replayScore) {
	for i := range r.der {
		r.der[i] += o.der[i]
	}
	r.miss, r.fa, r.conf = r.miss+o.miss, r.fa+o.fa, r.conf+o.conf
	if r.files == nil {
		r.files = make([]fileScore, len(o.files))
	}
	for i, f := range o.files {
		r.files[i].uri, r.files[i].ref = f.uri, f.ref
		r.files[i].c.Add(f.c)
		r.files[i].speakers += f.speakers
	}
}

func (r replayScore) line(n float64) string {
	return fmt.Sprintf("%5.2f %%  A %5.2f  B %5.2f  sim %5.2f  real %5.2f  (miss %.1f fa %.1f conf %.1f s)",
		r.der[0]/n, r.der[1]/n, r.der[2]/n, r.der[3]/n, r.der[4]/n, r.miss/n, r.fa/n, r.conf/n)
}

func scoreReplay(t *testing.T, refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline) replayScore {
	rep, err := eval.Score(refs, hyps, uems, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]*eval.Components{"A": {}, "B": {}, "sim": {}, "real": {}}
	var out replayScore
	for _, f := range rep.Files {
		out.files = append(out.files, fileScore{uri: f.URI, c: f.DER, speakers: float64(len(byURI(hyps, f.URI).Labels())), ref: len(byURI(refs, f.URI).Labels())})
		if strings.HasPrefix(f.URI, "sim") {
			parts["sim"].Add(f.DER)
			continue
		}
		parts["real"].Add(f.DER)
		if h := parts[bench.Split[f.URI]]; h != nil {
			h.Add(f.DER)
		}
	}
	p := rep.Pooled.DER
	out.der = [5]float64{100 * p.DER(), 100 * parts["A"].DER(), 100 * parts["B"].DER(), 100 * parts["sim"].DER(), 100 * parts["real"].DER()}
	out.miss, out.fa, out.conf = p.Missed, p.FalseAlarm, p.Confusion
	return out
}

func byURI(as []*annotation.Annotation, uri string) *annotation.Annotation {
	for _, a := range as {
		if a.URI == uri {
			return a
		}
	}
	return &annotation.Annotation{URI: uri}
}

// logConfusion logs, per file and in all, where the confusion lies.
func logConfusion(t *testing.T, name string, refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline, sc replayScore) {
	all := newConfusion()
	for i, h := range hyps {
		c := analyseConfusion(byURI(refs, h.URI), h, uems[h.URI])
		all.add(c)
		f := sc.files[i]
		t.Logf("  %s %-24s conf %5.1f many-to-one %5.1f split time %5.1f  %d/%d:%s", name, h.URI, f.c.Confusion, c.manyToOne, c.split, len(h.Labels()), f.ref, c.detail)
	}
	t.Logf("  %s all: conf %.1f many-to-one %.1f split time %.1f s; many-to-one by age in turn %v s: %.1f, the previous turn's label %.1f; by time in file %v s: %.1f",
		name, sc.conf, all.manyToOne, all.split, ageBins, all.byAge, all.carried, timeBins, all.byTime)
}

// TestRTTMAnalyse scores the RTTMs of $WHOSPOKE_LIVE_HYPDIR (for example
// `whospoke diarize` outputs) like TestStepReplay and logs where their
// confusion lies.
func TestRTTMAnalyse(t *testing.T) {
	dir := os.Getenv("WHOSPOKE_LIVE_HYPDIR")
	if dir == "" {
		t.Skip("set WHOSPOKE_LIVE_HYPDIR")
	}
	refs, uems := devReference(t, devFiles(t))
	var hyps []*annotation.Annotation
	for _, wav := range devFiles(t) {
		a, err := eval.ReadRTTMPath(filepath.Join(dir, uriOf(wav)+".rttm"))
		if err != nil {
			t.Fatal(err)
		}
		h := &annotation.Annotation{}
		if len(a) > 0 {
			h = a[0]
		}
		h.URI = uriOf(wav)
		hyps = append(hyps, h)
	}
	sc := scoreReplay(t, refs, hyps, uems)
	t.Logf("%s", sc.line(1))
	logConfusion(t, "rttm", refs, hyps, uems, sc)
}

// oracleSession returns a session whose centroids are, from its first
// buffer, those of the end-of-stream refinement of a first replay
// (Session.Revise's clustering), fixed: no founding, no drift. It bounds
// what better centroids could do for the live decisions.
func oracleSession(t *testing.T, e *Engine, k int, d *stepDump) *Session {
	first := e.NewSession(WithChunkPhase(k), WithHistory())
	replaySteps(first, d)
	out := e.NewSession(WithChunkPhase(k))
	h := first.history
	if len(first.speakers.Centroids) == 0 || h.chunks == nil {
		return out
	}
	pairs := h.pairs()
	cfg := diarize.DefaultConfig("").Clustering
	cfg.MaxSpeakers = first.cfg.MaxSpeakers
	start := make([][]float32, len(first.speakers.Centroids))
	for g, c := range first.speakers.Centroids {
		start[g] = append([]float32(nil), c...)
		embedding.Normalize(start[g])
	}
	a, err := clustering.RefineWindows(context.Background(), pairs, h.chunks, cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	sums := make([][]float32, a.K)
	for j := range sums {
		sums[j] = make([]float32, embedding.Dim)
	}
	for i, p := range pairs {
		if j := a.Speaker[i]; j >= 0 {
			for x, v := range p.Vec {
				sums[j][x] += 100 * v // heavy: later matches barely move it
			}
		}
	}
	out.speakers.Centroids, out.speakers.MaxSpeakers = sums, len(sums)
	return out
}

// TestStepTrace logs, for one recorded file ($WHOSPOKE_LIVE_TRACE, a .gob
// of TestStepDump at phase $WHOSPOKE_LIVE_PHASE), each buffer's active
// locals: their runs of activity, what embedded them, their cosine
// distances to the centroids before the buffer and the speaker they got.
func TestStepTrace(t *testing.T) {
	path := os.Getenv("WHOSPOKE_LIVE_TRACE")
	if path == "" {
		t.Skip("set WHOSPOKE_LIVE_TRACE")
	}
	d := loadStepDump(t, path)
	k, _ := strconv.Atoi(os.Getenv("WHOSPOKE_LIVE_PHASE"))
	s := testEngine(t, envConfig(t)).NewSession(WithChunkPhase(k))
	for _, r := range d.Steps {
		var centroids [][]float32
		for _, c := range s.speakers.Centroids {
			centroids = append(centroids, append([]float32(nil), c...))
		}
		locals, mapping := r.place(s)
		line := fmt.Sprintf("buffer %6.2f–%6.2f s", float64(r.Start)/SampleRate, float64(r.End)/SampleRate)
		for i, l := range locals {
			if !l.active {
				continue
			}
			src, dist := "no embedding", ""
			if l.vec != nil {
				src = fmt.Sprintf("own speech, solo %v", l.solo)
				if len(l.uses) > 0 {
					src = fmt.Sprintf("chunks %v", l.uses)
				}
				dist = fmt.Sprintf(" d %.2f", clustering.CosineCost([][]float32{l.vec}, centroids)[0])
			}
			line += fmt.Sprintf("\n  L%d mean %.2f → G%d [%s] %s%s", l.index, l.meanP, mapping[i], activeRuns(r, l.index), src, dist)
		}
		if n := len(s.speakers.Centroids) - len(centroids); n > 0 {
			line += fmt.Sprintf("\n  founded %d", n)
		}
		t.Log(line)
	}
}

// activeRuns lists the runs (seconds) where local k's probability reaches
// 0.5 in the recorded buffer.
func activeRuns(r stepRecord, k int) string {
	at := func(f int) float64 {
		return float64(r.Start+int64(f)*segmentation.FrameStep+segmentation.FrameSize/2) / SampleRate
	}
	var runs []string
	on := -1
	for f := 0; f <= len(r.Probs); f++ {
		active := f < len(r.Probs) && r.Probs[f][k] >= 0.5
		if active && on < 0 {
			on = f
		} else if !active && on >= 0 {
			runs = append(runs, fmt.Sprintf("%.2f–%.2f", at(on), at(f)))
			on = -1
		}
	}
	return strings.Join(runs, " ")
}
