package live

import (
	"cmp"
	"context"
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
// exactly, in seconds instead of a model pass (issue 16, the live
// confusion; BENCHMARKS.md):
//
//	for k in 0 1 2 3; do WHOSPOKE_LIVE_PHASE=$k WHOSPOKE_LIVE_STEPS=/tmp/steps/clean$k go test -run 'TestStepDump$' -timeout 30m ./live/; done
//	(the same with WHOSPOKE_DEV_SET=PHONE and /tmp/steps/phone$k)
//	WHOSPOKE_LIVE_REPLAY=/tmp/steps WHOSPOKE_LIVE_PHONE_SET=PHONE go test -run 'TestStepReplay$' -v ./live/

// stepRecord is one processed buffer: what Session.place takes.
type stepRecord struct {
	Start, End int64
	Heard      int64 // samples pushed when it ran
	Flush      bool  // Flush's last buffer (no decision follows it)
	Probs      [][segmentation.LocalSpeakers]float32
	Locals     []localRecordX
	Chunks     map[int64][]float32 // the chunk vectors the locals use
}

// localRecordX is a local with its fields exported for gob.
type localRecordX struct {
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
// buffer, recording what each buffer gives Session.place.
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
			r.Locals = append(r.Locals, localRecordX{l.index, l.maxP, l.meanP, l.vec, l.solo, l.active, l.uses})
			for _, u := range l.uses {
				r.Chunks[u.Chunk] = s.chunkVecs[u.Chunk]
			}
		}
		d.Steps = append(d.Steps, r)
		s.place(ctx, &ch, locals, start, end)
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
// decider (the session's own config) and returns its events.
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
		locals := make([]local, len(r.Locals))
		for i, l := range r.Locals {
			locals[i] = local{index: l.Index, maxP: l.MaxP, meanP: l.MeanP, vec: l.Vec, solo: l.Solo, active: l.Active, uses: l.Uses}
			if ownWeight > 0 && len(l.Uses) == 0 && l.Vec != nil {
				locals[i].weight = max(0.01, min(1, soloSeconds(r.Probs, l.Index)/ownWeight))
			}
		}
		s.chunkVecs = r.Chunks
		ch := segmentation.Chunk{Probs: r.Probs}
		s.place(context.Background(), &ch, locals, r.Start, r.End)
		s.lastEnd = r.End
		if !r.Flush {
			events = s.decider.decide(&s.activity, (s.lastEnd-s.decider.latency)/gridSamples, events)
		}
	}
	feed(d.Total)
	return s.decider.finish(&s.activity, d.Total, events)
}

func loadStepDumps(t *testing.T, dir string) []*stepDump {
	var out []*stepDump
	for _, wav := range devFiles(t) {
		f, err := os.Open(filepath.Join(dir, uriOf(wav)+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		d := &stepDump{}
		err = gob.NewDecoder(f).Decode(d)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestStepReplay replays $WHOSPOKE_LIVE_REPLAY/{clean,phone}{0..3} with
// the configuration of WHOSPOKE_LIVE_CFG and prints, per channel, the DER
// of each phase and their mean, pooled, per half and for the simulations,
// the missed / false alarm / confusion seconds and, with
// WHOSPOKE_LIVE_PERFILE=1, each file's errors and speaker count (mean
// over phases).
func TestStepReplay(t *testing.T) {
	root := os.Getenv("WHOSPOKE_LIVE_REPLAY")
	if root == "" {
		t.Skip("set WHOSPOKE_LIVE_REPLAY")
	}
	cfg := envConfig(t)
	newestOnly = os.Getenv("NEWEST") != ""
	nearestLabel = os.Getenv("NEARESTLABEL") != ""
	chunkUpdatesOnly = os.Getenv("CHUNKUPD") != ""
	ownWeight, _ = strconv.ParseFloat(os.Getenv("OWNWEIGHT"), 64)
	cleanSums = os.Getenv("CLEANSUMS") != ""
	clustering.BlendCheck = os.Getenv("BLEND") != ""
	clustering.BlendLimit, _ = strconv.ParseFloat(os.Getenv("BLENDLIMIT"), 64)
	clustering.RejectOption = os.Getenv("REJECT") != ""
	clustering.SoloFounds = os.Getenv("SOLOFOUNDS") != ""
	clustering.DeltaMixed, _ = strconv.ParseFloat(os.Getenv("DELTAMIXED"), 64)
	clustering.RhoFound, _ = strconv.ParseFloat(os.Getenv("RHOFOUND"), 64)
	for _, ch := range strings.Split(cmp.Or(os.Getenv("WHOSPOKE_LIVE_CHANNELS"), "clean,phone"), ",") {
		if _, err := os.Stat(filepath.Join(root, ch+"0")); err != nil {
			continue
		}
		if ch == "phone" {
			t.Setenv("WHOSPOKE_DEV_SET", os.Getenv("WHOSPOKE_LIVE_PHONE_SET"))
		}
		refs, uems := devReference(t, devFiles(t))
		e := testEngine(t, cfg)
		var sum replayScore
		for k := range 4 {
			var hyps []*annotation.Annotation
			for _, d := range loadStepDumps(t, filepath.Join(root, fmt.Sprint(ch, k))) {
				s := e.NewSession(WithChunkPhase(k), WithHistory())
				if os.Getenv("ORACLE") != "" {
					s = oracleSession(t, e, k, d)
				}
				h, err := ToAnnotation(d.URI, replaySteps(s, d))
				if err != nil {
					t.Fatal(err)
				}
				hyps = append(hyps, h)
			}
			sc := scoreReplay(t, refs, hyps, uems)
			if root := os.Getenv("WHOSPOKE_LIVE_RTTM"); root != "" {
				t.Setenv("WHOSPOKE_LIVE_RTTM", filepath.Join(root, fmt.Sprint(ch, k)))
				writeHyps(t, hyps, 1)
				t.Setenv("WHOSPOKE_LIVE_RTTM", root)
			}
			if os.Getenv("WHOSPOKE_LIVE_ANALYSE") != "" {
				analyse(t, ch, k, refs, hyps, uems, sc)
			}
			t.Logf("%s phase %d: %s", ch, k, sc.line(1))
			sum.add(sc)
		}
		t.Logf("%s MEAN   : %s", ch, sum.line(4))
		if os.Getenv("WHOSPOKE_LIVE_PERFILE") != "" {
			for _, f := range sum.files {
				t.Logf("  %s %-26s err %5.1f s (miss %4.1f fa %4.1f conf %4.1f) speakers %.2f (ref %d)",
					ch, f.uri, f.c.Missed/4+f.c.FalseAlarm/4+f.c.Confusion/4, f.c.Missed/4, f.c.FalseAlarm/4, f.c.Confusion/4, f.speakers/4, f.ref)
			}
		}
	}
}

// replayScore holds the parts of a scored replay (summed over phases).
type replayScore struct {
	der                        [5]float64 // all, A, B, sim, real
	miss, fa, conf, silentMiss float64
	files                      []fileScore
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
	count := func(as []*annotation.Annotation, uri string) int {
		for _, a := range as {
			if a.URI == uri {
				return len(a.Labels())
			}
		}
		return 0
	}
	for _, f := range rep.Files {
		out.files = append(out.files, fileScore{uri: f.URI, c: f.DER, speakers: float64(count(hyps, f.URI)), ref: count(refs, f.URI)})
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

// analyse logs, per file, the confusion and what merging split speakers
// could not fix (confusionParts).
func analyse(t *testing.T, ch string, k int, refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline, sc replayScore) {
	var conf, m2o, minor float64
	for i, h := range hyps {
		var ref *annotation.Annotation
		for _, r := range refs {
			if r.URI == h.URI {
				ref = r
			}
		}
		c, m, detail := confusionParts(ref, h, uems[h.URI])
		f := sc.files[i]
		conf, m2o, minor = conf+f.c.Confusion, m2o+c, minor+m
		t.Logf("  %s%d %-24s conf %5.1f many-to-one %5.1f split time %5.1f  %d/%d:%s", ch, k, h.URI, f.c.Confusion, c, m, len(h.Labels()), f.ref, detail)
	}
	t.Logf("  %s%d total conf %.1f many-to-one %.1f split time %.1f; by age in turn %v: %.1f, of which carried over %.1f", ch, k, conf, m2o, minor, ageBins, ConfByAge, CarriedByAge)
	clear(ConfByAge)
	clear(CarriedByAge)
	t.Logf("  %s%d by time in file %v: %.1f", ch, k, timeBins, ConfByTime)
	clear(ConfByTime)
}

// TestStepTrace prints, for one recorded file ($WHOSPOKE_LIVE_TRACE: a
// .gob of TestStepDump), each buffer's locals: activity runs, embedding
// source, distances to the centroids and the global speaker they got.
func TestStepTrace(t *testing.T) {
	path := os.Getenv("WHOSPOKE_LIVE_TRACE")
	if path == "" {
		t.Skip("set WHOSPOKE_LIVE_TRACE")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &stepDump{}
	if err := gob.NewDecoder(f).Decode(d); err != nil {
		t.Fatal(err)
	}
	f.Close()
	k, _ := strconv.Atoi(os.Getenv("WHOSPOKE_LIVE_PHASE"))
	s := testEngine(t, envConfig(t)).NewSession(WithChunkPhase(k), WithHistory())
	for _, r := range d.Steps {
		locals := make([]local, len(r.Locals))
		for i, l := range r.Locals {
			locals[i] = local{index: l.Index, maxP: l.MaxP, meanP: l.MeanP, vec: l.Vec, solo: l.Solo, active: l.Active, uses: l.Uses}
		}
		before := len(s.speakers.Centroids)
		dist := [][]float64{}
		for _, l := range locals {
			if l.vec != nil && l.active {
				dist = append(dist, clusteringCost(l.vec, s.speakers.Centroids))
			}
		}
		s.chunkVecs = r.Chunks
		ch := segmentation.Chunk{Probs: r.Probs}
		mapping := s.place(context.Background(), &ch, locals, r.Start, r.End)
		line := fmt.Sprintf("buf %6.2f-%6.2f", float64(r.Start)/SampleRate, float64(r.End)/SampleRate)
		di := 0
		for i, l := range locals {
			if !l.active {
				continue
			}
			runs := ""
			on := -1
			for fr := 0; fr <= len(r.Probs); fr++ {
				act := fr < len(r.Probs) && r.Probs[fr][l.index] >= 0.5
				if act && on < 0 {
					on = fr
				} else if !act && on >= 0 {
					x := func(f int) float64 {
						return float64(r.Start+int64(f)*segmentation.FrameStep+segmentation.FrameSize/2) / SampleRate
					}
					runs += fmt.Sprintf("%.2f-%.2f ", x(on), x(fr))
					on = -1
				}
			}
			src := "none"
			var ds []float64
			if l.vec != nil {
				src = fmt.Sprintf("own solo=%v", l.solo)
				if len(l.uses) > 0 {
					src = fmt.Sprintf("chunks %v", l.uses)
				}
				ds = dist[di]
				di++
			}
			line += fmt.Sprintf("\n   L%d mean %.2f → G%d [%s] %s d=%.2f", l.index, l.meanP, mapping[i], runs, src, ds)
		}
		if len(s.speakers.Centroids) > before {
			line += fmt.Sprintf("\n   FOUNDED %d", len(s.speakers.Centroids)-before)
		}
		t.Log(line)
	}
}

func clusteringCost(v []float32, centroids [][]float32) []float64 {
	out := []float64{}
	for _, c := range centroids {
		var dot, n float64
		for i := range v {
			dot += float64(v[i]) * float64(c[i])
			n += float64(c[i]) * float64(c[i])
		}
		out = append(out, 1-dot/math.Sqrt(n))
	}
	return out
}

// TestRTTMAnalyse runs the confusion analysis on the RTTMs of a folder
// ($WHOSPOKE_LIVE_HYPDIR, e.g. `whospoke diarize` outputs).
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
	analyse(t, "rttm", 0, refs, hyps, uems, sc)
}

// oracleSession returns a session whose centroids are, from the start,
// those of the end-of-stream refinement of a first replay (fixed: no
// founding, no drift): what the online clustering would do if it knew
// every voice of the stream from its first buffer.
func oracleSession(t *testing.T, e *Engine, k int, d *stepDump) *Session {
	s := e.NewSession(WithChunkPhase(k), WithHistory())
	replaySteps(s, d)
	h := s.history
	var pairs []clustering.Pair
	for w, b := range h.buffers {
		for _, l := range b.locals {
			vec := l.vec
			if vec == nil {
				vec = chunkembed.Pool(l.uses, func(c int64) []float32 { return h.chunks[c] })
			}
			pairs = append(pairs, clustering.Pair{Window: w, Vec: vec, Clean: len(l.uses) > 0})
		}
	}
	out := e.NewSession(WithChunkPhase(k))
	if len(s.speakers.Centroids) == 0 || h.chunks == nil {
		return out
	}
	cfg := diarize.DefaultConfig("").Clustering
	cfg.MaxSpeakers = s.cfg.MaxSpeakers
	start := make([][]float32, len(s.speakers.Centroids))
	for g, c := range s.speakers.Centroids {
		start[g] = append([]float32(nil), c...)
		embedding.Normalize(start[g])
	}
	a, err := clustering.RefineWindows(context.Background(), pairs, h.chunks, len(h.buffers), cfg, start)
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
				sums[j][x] += v * 100
			}
		}
	}
	out.speakers.Centroids = sums
	out.speakers.MaxSpeakers = len(sums)
	return out
}

// TestFoundings lists, for every file of $WHOSPOKE_LIVE_REPLAY/clean0 (or
// $WHOSPOKE_LIVE_FOUND_DIR), each founded speaker's founding evidence and
// what it became (time, purity, split) in the replay's output.
func TestFoundings(t *testing.T) {
	dir := os.Getenv("WHOSPOKE_LIVE_FOUND_DIR")
	if dir == "" {
		t.Skip("set WHOSPOKE_LIVE_FOUND_DIR")
	}
	k, _ := strconv.Atoi(os.Getenv("WHOSPOKE_LIVE_PHASE"))
	refs, uems := devReference(t, devFiles(t))
	e := testEngine(t, envConfig(t))
	for _, d := range loadStepDumps(t, dir) {
		s := e.NewSession(WithChunkPhase(k))
		var notes []string
		for _, r := range d.Steps {
			locals := make([]local, len(r.Locals))
			for i, l := range r.Locals {
				locals[i] = local{index: l.Index, maxP: l.MaxP, meanP: l.MeanP, vec: l.Vec, solo: l.Solo, active: l.Active, uses: l.Uses}
			}
			before := len(s.speakers.Centroids)
			s.chunkVecs = r.Chunks
			ch := segmentation.Chunk{Probs: r.Probs}
			mapping := s.place(context.Background(), &ch, locals, r.Start, r.End)
			for i, g := range mapping {
				if g >= before {
					ev := fmt.Sprintf("own solo=%v", locals[i].solo)
					if len(locals[i].uses) > 0 {
						ev = fmt.Sprintf("chunks %v", locals[i].uses)
					}
					notes = append(notes, fmt.Sprintf("G%d@%.1fs mean %.2f %s", g, float64(r.End)/SampleRate, locals[i].meanP, ev))
				}
			}
		}
		_ = uems
		_ = refs
		t.Logf("%s: %s", d.URI, strings.Join(notes, "; "))
	}
}

// TestSpread prints per file the distances of matched solo chunk-pooled
// locals to their centroid (before the update: the within-speaker spread)
// and of co-occurring clean locals of one buffer to each other.
func TestSpread(t *testing.T) {
	dir := os.Getenv("WHOSPOKE_LIVE_FOUND_DIR")
	if dir == "" {
		t.Skip("set WHOSPOKE_LIVE_FOUND_DIR")
	}
	k, _ := strconv.Atoi(os.Getenv("WHOSPOKE_LIVE_PHASE"))
	e := testEngine(t, envConfig(t))
	q := func(xs []float64, p float64) float64 {
		if len(xs) == 0 {
			return math.NaN()
		}
		ys := append([]float64(nil), xs...)
		slices.Sort(ys)
		return ys[int(p*float64(len(ys)-1))]
	}
	nBins := []int{0, 1, 2, 4, 8, 16, 32}
	byN := make([][]float64, len(nBins))
	defer func() {
		for b := range nBins {
			t.Logf("updates ≥ %2d: n=%4d q50 %.3f q75 %.3f q90 %.3f", nBins[b], len(byN[b]), q(byN[b], .5), q(byN[b], .75), q(byN[b], .9))
		}
	}()
	for _, d := range loadStepDumps(t, dir) {
		s := e.NewSession(WithChunkPhase(k))
		var within, between []float64
		var updates []int
		for _, r := range d.Steps {
			locals := make([]local, len(r.Locals))
			for i, l := range r.Locals {
				locals[i] = local{index: l.Index, maxP: l.MaxP, meanP: l.MeanP, vec: l.Vec, solo: l.Solo, active: l.Active, uses: l.Uses}
			}
			var before [][]float32
			for _, c := range s.speakers.Centroids {
				before = append(before, append([]float32(nil), c...))
			}
			var clean [][]float32
			for _, l := range locals {
				if l.active && len(l.uses) > 0 {
					clean = append(clean, l.vec)
				}
			}
			if len(clean) == 2 {
				between = append(between, clusteringCost(clean[0], [][]float32{clean[1]})[0])
			}
			s.chunkVecs = r.Chunks
			ch := segmentation.Chunk{Probs: r.Probs}
			mapping := s.place(context.Background(), &ch, locals, r.Start, r.End)
			for i, g := range mapping {
				if g >= 0 && g < len(before) && len(locals[i].uses) > 0 && locals[i].meanP >= s.cfg.RhoUpdate {
					d := clusteringCost(locals[i].vec, before[g:g+1])[0]
					within = append(within, d)
					b := 0
					for b < len(nBins)-1 && updates[g] >= nBins[b+1] {
						b++
					}
					byN[b] = append(byN[b], d)
				}
			}
			for i, g := range mapping {
				if g >= 0 && locals[i].solo && locals[i].meanP >= s.cfg.RhoUpdate {
					for len(updates) <= g {
						updates = append(updates, 0)
					}
					updates[g]++
				}
			}
		}
		t.Logf("%-26s within n=%3d q25 %.2f q50 %.2f q75 %.2f q90 %.2f | between n=%3d q10 %.2f q50 %.2f", d.URI, len(within), q(within, .25), q(within, .5), q(within, .75), q(within, .9), len(between), q(between, .1), q(between, .5))
	}
}

var ownWeight float64

// soloSeconds is how long local k is active alone in the buffer.
func soloSeconds(probs [][segmentation.LocalSpeakers]float32, k int) float64 {
	n := 0
	for _, p := range probs {
		alone := p[k] >= 0.5
		for j := range p {
			if j != k && p[j] >= 0.5 {
				alone = false
			}
		}
		if alone {
			n++
		}
	}
	return float64(n) * segmentation.FrameStep / SampleRate
}
