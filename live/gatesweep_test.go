package live

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/bench"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/vad"
)

// The speech gate and the recovery of voiced cells change decisions only,
// never what the engine clusters or aggregates (the recorded run skips the
// buffers the default gate is sure are silent, as production does), so a
// run recorded cell by cell replays any gate, recovery or onset/offset
// exactly through the production decider in milliseconds. TestGateDump
// records; TestGateSweep and TestDecideSweep replay (issue 16,
// docs/STREAMING_BENCH.md):
//
//	WHOSPOKE_LIVE_DUMP=/tmp/dump/clean go test -run 'TestGateDump$' -v -timeout 30m ./live/
//	WHOSPOKE_DEV_SET=PHONE WHOSPOKE_LIVE_DUMP=/tmp/dump/phone go test -run 'TestGateDump$' …
//	WHOSPOKE_LIVE_SWEEP=/tmp/dump/clean,/tmp/dump/phone go test -run 'TestGateSweep$' -v ./live/
//
// WHOSPOKE_LIVE_PHASE=k records a chunk phase (TestDecideSweep reads all
// four); without it the sessions take the phases in turn, as TestLiveDER's.

// cellDump is one file's run: per cell the activity of every global
// speaker when it was decided (before the speech gate) and the audio heard
// by then, and Silero's probability per 32 ms frame.
type cellDump struct {
	URI      string
	Total    int64
	Activity [][]float32 // [speaker][cell]
	HeardAt  []int64     // per cell: samples pushed when it was decided
	VAD      []float32
}

// TestGateDump writes $WHOSPOKE_LIVE_DUMP/<uri>.gob for each dev file.
func TestGateDump(t *testing.T) {
	dir := os.Getenv("WHOSPOKE_LIVE_DUMP")
	if dir == "" {
		t.Skip("set WHOSPOKE_LIVE_DUMP")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, DefaultConfig())
	phase := -1 // the engine's phases in turn, as TestLiveDER's streamDev
	if v := os.Getenv("WHOSPOKE_LIVE_PHASE"); v != "" {
		var err error
		if phase, err = strconv.Atoi(v); err != nil {
			t.Fatalf("WHOSPOKE_LIVE_PHASE %q: %v", v, err)
		}
	}
	for _, wav := range devFiles(t) {
		samples := loadSamples(t, wav)
		d := dumpFile(t, e.NewSession(WithChunkPhase(phase)), samples)
		d.URI = uriOf(wav)
		var err error
		if d.VAD, err = testModels(t).VAD.NewStream().Push(samples); err != nil {
			t.Fatal(err)
		}
		writeGob(t, filepath.Join(dir, d.URI+".gob"), d)
	}
}

// dumpFile runs Session.Push's loop in 100 ms frames, recording each cell
// before it is decided, then Flush's last buffer. The session keeps its
// speech gate, so that buffers of sure silence are skipped as in
// production; the activity recorded is the gate's input.
func dumpFile(t *testing.T, s *Session, samples []float32) *cellDump {
	ctx := context.Background()
	d := &cellDump{}
	record := func(upto int64) {
		for len(d.Activity) < len(s.activity.speakers) {
			d.Activity = append(d.Activity, make([]float32, len(d.HeardAt)))
		}
		for c := s.decider.decided; c < min(upto, s.activity.end()); c++ {
			for g := range d.Activity {
				d.Activity[g] = append(d.Activity[g], s.activity.at(g, c))
			}
			d.HeardAt = append(d.HeardAt, s.audio.total)
		}
	}
	for off := 0; off < len(samples); off += 1600 {
		frame := samples[off:min(off+1600, len(samples))]
		s.audio.push(frame)
		if s.gate != nil {
			if err := s.gate.push(frame); err != nil {
				t.Fatal(err)
			}
		}
		for s.nextStep <= s.audio.total {
			if err := s.process(ctx, s.nextStep); err != nil {
				t.Fatal(err)
			}
			s.nextStep += s.stepLen
			upto := (s.lastEnd - s.decider.latency) / gridSamples
			record(upto)
			s.decider.decide(&s.activity, upto, nil)
		}
		s.trim()
	}
	if s.audio.total > s.lastEnd {
		if err := s.process(ctx, s.audio.total); err != nil {
			t.Fatal(err)
		}
	}
	record((s.audio.total + gridSamples - 1) / gridSamples)
	d.Total = s.audio.total
	return d
}

func loadDumps(t *testing.T, dir string) []*cellDump {
	var out []*cellDump
	for _, wav := range devFiles(t) {
		d := &cellDump{}
		readGob(t, filepath.Join(dir, uriOf(wav)+".gob"), d)
		out = append(out, d)
	}
	return out
}

// gateFunc says per cell whether it may be decided as anyone's (nil: all).
type gateFunc func(d *cellDump) []bool

// vadGate is the production gate at the given threshold and smoothing
// (frames), fed the frames heard when each cell is decided.
func vadGate(th float64, minSilence, pad int64) gateFunc {
	return func(d *cellDump) []bool {
		g := &speechGate{threshold: float32(th), minSilence: minSilence, pad: pad}
		out := make([]bool, len(d.HeardAt))
		heard := 0
		for c := range out {
			heard = d.feed(g, heard, c)
			out[c] = g.speech(int64(c))
		}
		return out
	}
}

// feed gives g the VAD frames after the first heard that the session had
// heard when it decided cell c, and returns how many it has had.
func (d *cellDump) feed(g *speechGate, heard, c int) int {
	for heard < len(d.VAD) && int64(heard+1)*vad.FrameSamples <= d.HeardAt[c] {
		g.add(d.VAD[heard : heard+1])
		heard++
	}
	return heard
}

// voicedCells says per cell whether Silero heard speech from th up in it
// by the time the cell was decided (the decider's recovery).
func voicedCells(d *cellDump, th float64) []bool {
	g := &speechGate{}
	out := make([]bool, len(d.HeardAt))
	heard := 0
	for c := range out {
		heard = d.feed(g, heard, c)
		f := (int64(c)*gridSamples + gridSamples/2) / vad.FrameSamples
		out[c] = f < int64(len(g.probs)) && float64(g.probs[f]) >= th
	}
	return out
}

// replay binarises a dump through the production decider; voiced (nil:
// none) are the cells the decider may recover.
func replay(t *testing.T, d *cellDump, speech, voiced []bool, onset, offset float64) *annotation.Annotation {
	n := len(d.HeardAt)
	a := activityGrid{weights: make([]float32, n), speakers: d.Activity}
	for i := range a.weights {
		a.weights[i] = 1
	}
	dec := decider{onset: onset, offset: offset}
	if speech != nil {
		dec.speech = func(c int64) bool { return c >= int64(n) || speech[c] }
	}
	if voiced != nil {
		dec.voiced = func(c int64) bool { return c < int64(n) && voiced[c] }
	}
	h, err := ToAnnotation(d.URI, dec.finish(&a, d.Total, nil))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// scoreParts scores a replay of one copy of dev: all, real, sim and the
// halves of bench.Split, per-file errors (seconds) and the false alarm in
// silence.
func scoreParts(t *testing.T, dumps []*cellDump, g gateFunc, recover, onset, offset float64) (map[string]*eval.Components, []string, float64) {
	refs, uems := devReference(t, devFiles(t))
	var hyps []*annotation.Annotation
	for _, d := range dumps {
		var sp []bool
		if g != nil {
			sp = g(d)
		}
		var voiced []bool
		if recover > 0 {
			voiced = voicedCells(d, recover)
		}
		hyps = append(hyps, replay(t, d, sp, voiced, onset, offset))
	}
	rep, err := eval.Score(refs, hyps, uems, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]*eval.Components{"all": {}, "real": {}, "sim": {}, "A": {}, "B": {}}
	var perFile []string
	for _, f := range rep.Files {
		parts["all"].Add(f.DER)
		part := "real"
		if strings.HasPrefix(f.URI, "sim") {
			part = "sim"
		} else if h := parts[bench.Split[f.URI]]; h != nil {
			h.Add(f.DER)
		}
		parts[part].Add(f.DER)
		perFile = append(perFile, fmt.Sprintf("%.1f", f.DER.Missed+f.DER.FalseAlarm+f.DER.Confusion))
	}
	return parts, perFile, silentFA(refs, hyps, uems)
}

// sweepRow logs the tuning score (half A + sim of both copies, pooled),
// the confirming halves B (clean / phone), and each copy's pooled (real
// sim A) with its false alarm in reference silence.
func sweepRow(t *testing.T, name string, clean, phone []*cellDump, g gateFunc, onset, offset float64) {
	c, cf, csil := scoreParts(t, clean, g, 0, onset, offset)
	p, pf, psil := scoreParts(t, phone, g, 0, onset, offset)
	var tune eval.Components
	for _, x := range []*eval.Components{c["A"], c["sim"], p["A"], p["sim"]} {
		tune.Add(*x)
	}
	d := func(x *eval.Components) float64 { return 100 * x.DER() }
	t.Logf("%-28s tune %5.2f | B %5.2f / %5.2f | clean %5.2f (%5.2f %5.2f A %5.2f) sil %4.1f | phone %5.2f (%5.2f %5.2f A %5.2f) sil %4.1f",
		name, d(&tune), d(c["B"]), d(p["B"]), d(c["all"]), d(c["real"]), d(c["sim"]), d(c["A"]), csil,
		d(p["all"]), d(p["real"]), d(p["sim"]), d(p["A"]), psil)
	if os.Getenv("WHOSPOKE_LIVE_PERFILE") != "" {
		t.Logf("   clean %s", strings.Join(cf, " "))
		t.Logf("   phone %s", strings.Join(pf, " "))
	}
}

// TestGateSweep replays the dumps of dev and its phone copy through gates
// of several thresholds and minimum silences, then onset/offset with the
// default gate.
func TestGateSweep(t *testing.T) {
	root := os.Getenv("WHOSPOKE_LIVE_SWEEP")
	if root == "" {
		t.Skip("set WHOSPOKE_LIVE_SWEEP=CLEAN_DUMPS,PHONE_DUMPS")
	}
	dirs := strings.Split(root, ",")
	if len(dirs) != 2 {
		t.Fatalf("WHOSPOKE_LIVE_SWEEP %q: want two folders", root)
	}
	clean, phone := loadDumps(t, dirs[0]), loadDumps(t, dirs[1])
	vadLevels(t, "clean", clean)
	vadLevels(t, "phone", phone)
	sweepRow(t, "no gate", clean, phone, nil, 0.5, 0.5)
	for _, th := range []float64{0.2, 0.1, 0.05, 0.02, 0.01, 0.005} {
		for _, ms := range []int64{3, 8, 16} {
			sweepRow(t, fmt.Sprintf("gate %.3f, %d frames", th, ms), clean, phone, vadGate(th, ms, gatePad), 0.5, 0.5)
		}
	}
	cfg := DefaultConfig()
	for _, on := range []float64{0.45, 0.5, 0.55} {
		for _, off := range []float64{0.4, 0.45, 0.5} {
			if off <= on {
				sweepRow(t, fmt.Sprintf("gate, onset %.2f offset %.2f", on, off), clean, phone,
					vadGate(cfg.SpeechGate, gateMinSilence, gatePad), on, off)
			}
		}
	}
}

// vadLevels logs Silero's probabilities in reference speech and silence,
// pooled over the real files (quantiles 10/25/50 % and 50/90 %).
func vadLevels(t *testing.T, name string, dumps []*cellDump) {
	refs, uems := devReference(t, devFiles(t))
	var speech, silence []float32
	for i, d := range dumps {
		if strings.HasPrefix(d.URI, "sim") {
			continue
		}
		ref := refs[i].Timeline()
		for f, p := range d.VAD {
			x := annotation.Timeline{{Start: float64(f) * vad.FrameSeconds, End: float64(f+1) * vad.FrameSeconds}}
			if x.Minus(uems[d.URI].Union()).Duration() > 0 {
				continue // outside the scored region
			}
			if x.Minus(ref).Duration() == 0 {
				speech = append(speech, p)
			} else if x.Minus(x.Minus(ref)).Duration() == 0 {
				silence = append(silence, p)
			}
		}
	}
	q := func(v []float32, p float64) float32 {
		slices.Sort(v)
		return v[int(p*float64(len(v)-1))]
	}
	t.Logf("%s real files, Silero: speech q10 %.3f q25 %.3f q50 %.3f; silence q50 %.3f q90 %.3f (%d / %d frames)", name,
		q(speech, .1), q(speech, .25), q(speech, .5), q(silence, .5), q(silence, .9), len(speech), len(silence))
}

// TestDecideSweep replays dumps of every chunk phase of dev and its phone
// copy (TestGateDump with WHOSPOKE_LIVE_PHASE=k into DIR/clean<k> and,
// with WHOSPOKE_DEV_SET=PHONE, DIR/phone<k>) through the decider with and
// without the recovery of voiced cells, and logs each part's DER as the
// mean over the phases: a single phase moves pooled DER by about 2 points
// (docs/STREAMING_BENCH.md, "Staggered chunk grids").
//
//	WHOSPOKE_LIVE_PHASES=DIR WHOSPOKE_LIVE_PHONE_SET=PHONE go test -run 'TestDecideSweep$' -v ./live/
func TestDecideSweep(t *testing.T) {
	root, phoneSet := os.Getenv("WHOSPOKE_LIVE_PHASES"), os.Getenv("WHOSPOKE_LIVE_PHONE_SET")
	if root == "" || phoneSet == "" {
		t.Skip("set WHOSPOKE_LIVE_PHASES=DIR (clean0..3, phone0..3) and WHOSPOKE_LIVE_PHONE_SET")
	}
	sets := map[string]string{"clean": "", "phone": phoneSet}
	dumps := map[string][]*cellDump{}
	for ch, set := range sets {
		t.Setenv("WHOSPOKE_DEV_SET", set)
		for k := range 4 {
			dumps[fmt.Sprintf("%s%d", ch, k)] = loadDumps(t, filepath.Join(root, fmt.Sprintf("%s%d", ch, k)))
		}
	}
	gate := vadGate(DefaultConfig().SpeechGate, gateMinSilence, gatePad)
	for _, v := range []struct {
		name    string
		recover float64
	}{{"gate", 0}, {"gate, recover 0.5", 0.5}, {"gate, recover 0.35", 0.35}, {"gate, recover 0.65", 0.65}} {
		for _, ch := range []string{"clean", "phone"} {
			t.Setenv("WHOSPOKE_DEV_SET", sets[ch])
			phaseMeans(t, v.name+" "+ch, dumps, ch, gate, v.recover)
		}
	}
}

// phaseMeans logs one channel's parts (DER and missed / false alarm /
// confusion seconds) as the mean over the four phases' dumps, each
// phase's pooled DER, and per file the mean error seconds.
func phaseMeans(t *testing.T, name string, dumps map[string][]*cellDump, ch string, g gateFunc, recover float64) {
	phaseMeansOO(t, name, dumps, ch, g, recover, 0.5, 0.5)
}

func phaseMeansOO(t *testing.T, name string, dumps map[string][]*cellDump, ch string, g gateFunc, recover, onset, offset float64) {
	parts := []string{"all", "real", "sim", "A", "B"}
	der := map[string]float64{}
	var miss, fa, conf, sil float64
	var perPhase []string
	var fileSum []float64
	for k := range 4 {
		p, files, s := scoreParts(t, dumps[fmt.Sprintf("%s%d", ch, k)], g, recover, onset, offset)
		for _, name := range parts {
			der[name] += 100 * p[name].DER() / 4
		}
		miss, fa, conf, sil = miss+p["all"].Missed/4, fa+p["all"].FalseAlarm/4, conf+p["all"].Confusion/4, sil+s/4
		perPhase = append(perPhase, fmt.Sprintf("%.2f", 100*p["all"].DER()))
		for i, f := range files {
			x, _ := strconv.ParseFloat(f, 64)
			if len(fileSum) <= i {
				fileSum = append(fileSum, 0)
			}
			fileSum[i] += x / 4
		}
	}
	t.Logf("%-28s %5.2f (real %5.2f sim %5.2f A %5.2f B %5.2f) miss %5.1f fa %5.1f [%4.1f in silence] conf %5.1f s; phases %s",
		name, der["all"], der["real"], der["sim"], der["A"], der["B"], miss, fa, sil, conf, strings.Join(perPhase, " "))
	if os.Getenv("WHOSPOKE_LIVE_PERFILE") != "" {
		var fs []string
		for _, x := range fileSum {
			fs = append(fs, fmt.Sprintf("%.1f", x))
		}
		t.Logf("   per file (s): %s", strings.Join(fs, " "))
	}
}
