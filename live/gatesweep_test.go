package live

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/bench"
	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/vad"
)

// The speech gate changes decisions only, never what the engine clusters
// or aggregates, so a run without it, recorded cell by cell, replays any
// gate (or onset/offset) exactly through the production decider in
// milliseconds. TestGateDump records; TestGateSweep replays (issue 16,
// docs/STREAMING_BENCH.md):
//
//	WHOSPOKE_LIVE_DUMP=/tmp/dump/clean go test -run 'TestGateDump$' -v -timeout 30m ./live/
//	WHOSPOKE_DEV_SET=PHONE WHOSPOKE_LIVE_DUMP=/tmp/dump/phone go test -run 'TestGateDump$' …
//	WHOSPOKE_LIVE_SWEEP=/tmp/dump/clean,/tmp/dump/phone go test -run 'TestGateSweep$' -v ./live/

// cellDump is one file's run without a gate: per cell the activity of
// every global speaker when it was decided and the audio heard by then,
// and Silero's probability per 32 ms frame.
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
	cfg := DefaultConfig()
	cfg.SpeechGate = 0
	e := testEngine(t, cfg)
	for _, wav := range devFiles(t) {
		samples := loadSamples(t, wav)
		d := dumpFile(t, e, samples)
		d.URI = uriOf(wav)
		var err error
		if d.VAD, err = testModels(t).VAD.NewStream().Push(samples); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, d.URI+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		err = gob.NewEncoder(f).Encode(d)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dumpFile runs Session.Push's loop in 100 ms frames, recording each cell
// before it is decided, then Flush's last buffer.
func dumpFile(t *testing.T, e *Engine, samples []float32) *cellDump {
	ctx := context.Background()
	s := e.NewSession()
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
		s.audio.push(samples[off:min(off+1600, len(samples))])
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
		f, err := os.Open(filepath.Join(dir, uriOf(wav)+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		d := &cellDump{}
		err = gob.NewDecoder(f).Decode(d)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
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
			for heard < len(d.VAD) && int64(heard+1)*vad.FrameSamples <= d.HeardAt[c] {
				g.add(d.VAD[heard : heard+1])
				heard++
			}
			out[c] = g.speech(int64(c))
		}
		return out
	}
}

// replay binarises a dump through the production decider.
func replay(t *testing.T, d *cellDump, speech []bool, onset, offset float64) *annotation.Annotation {
	n := len(d.HeardAt)
	a := activityGrid{weights: make([]float32, n), speakers: d.Activity}
	for i := range a.weights {
		a.weights[i] = 1
	}
	dec := decider{onset: onset, offset: offset}
	if speech != nil {
		dec.speech = func(c int64) bool { return c >= int64(n) || speech[c] }
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
func scoreParts(t *testing.T, dumps []*cellDump, g gateFunc, onset, offset float64) (map[string]*eval.Components, []string, float64) {
	refs, uems := devReference(t, devFiles(t))
	var hyps []*annotation.Annotation
	for _, d := range dumps {
		var sp []bool
		if g != nil {
			sp = g(d)
		}
		hyps = append(hyps, replay(t, d, sp, onset, offset))
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
	c, cf, csil := scoreParts(t, clean, g, onset, offset)
	p, pf, psil := scoreParts(t, phone, g, onset, offset)
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
