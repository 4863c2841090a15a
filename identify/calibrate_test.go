package identify

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/testenv"
)

// TestCalibrate runs the dev voiceprint protocol through the package and
// prints the numbers docs/IDENTIFICATION.md reports. Opt-in (about a minute
// on 2 cores):
//
//	WHOSPOKE_CALIBRATE=1 go test ./identify/ -run Calibrate -v -timeout 30m
func TestCalibrate(t *testing.T) {
	if os.Getenv("WHOSPOKE_CALIBRATE") == "" {
		t.Skip("set WHOSPOKE_CALIBRATE=1 to run the whole dev protocol")
	}
	dev, p := testenv.DevSet(t, filepath.Join("speakers", "speaker_id_protocol.tsv")), pipeline(t)
	ctx := context.Background()
	rows := protocol(t, dev)

	type file struct {
		protoRow
		res  *diarize.Result
		vecs map[voiceprintMode][]float32
		conv map[string][]float32 // identify path: dominant speaker's SpeakerEmbeddings vector per setting
	}
	var files []*file
	warnings := 0
	for _, r := range rows {
		if r.role != "enroll" && r.role != "test" && r.role != "impostor" {
			continue
		}
		a := load(t, r.file)
		res, err := p.Diarize(ctx, a, diarize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f := &file{protoRow: r, res: res, vecs: map[voiceprintMode][]float32{}, conv: map[string][]float32{}}
		for _, m := range []voiceprintMode{wholeFile, speechOnly} {
			v, warn, err := voiceprintOf(p, a, res, m)
			if err != nil {
				t.Fatalf("%s: %v", r.file, err)
			}
			if warn != "" && m == wholeFile {
				warnings++
				t.Logf("%s %s: %s", r.role, filepath.Base(r.file), warn)
			}
			f.vecs[m] = v
		}
		talk := speakingTime(res.Exclusive)
		for _, s := range identifySettings {
			speechMargin = s.margin
			sp, err := SpeakerEmbeddings(ctx, p, a, res)
			if err != nil {
				t.Fatal(err)
			}
			best := ""
			for s := range sp {
				if best == "" || talk[s] > talk[best] {
					best = s
				}
			}
			f.conv[s.name] = sp[best]
		}
		speechMargin = defaultMargin
		files = append(files, f)
	}
	t.Logf("%d files, %d with more than one diarized speaker", len(files), warnings)

	type variant struct {
		name   string
		enroll func(*file) []float32
		test   func(*file) []float32
	}
	byMode := func(m voiceprintMode) func(*file) []float32 { return func(f *file) []float32 { return f.vecs[m] } }
	variants := []variant{
		{"whole file (tools README protocol)", byMode(wholeFile), byMode(wholeFile)},
		{"speech only (dominant speaker)", byMode(speechOnly), byMode(speechOnly)},
	}
	for _, s := range identifySettings {
		variants = append(variants, variant{"Voiceprint() enrol, identify path test (SpeakerEmbeddings, " + s.name + ")",
			byMode(mode), func(f *file) []float32 { return f.conv[s.name] }})
	}
	for _, v := range variants {
		var prints []Enrolled
		var tests, impostors []labelled
		for _, f := range files {
			switch f.role {
			case "enroll":
				prints = append(prints, Enrolled{f.speaker, v.enroll(f)})
			case "test":
				tests = append(tests, labelled{f.speaker, v.test(f)})
			case "impostor":
				impostors = append(impostors, labelled{f.speaker, v.test(f)})
			}
		}
		t.Logf("== %s\n%s", v.name, score(prints, tests, impostors))
	}

	if os.Getenv("WHOSPOKE_CALIBRATE_SIM") != "" {
		var prints []Enrolled
		for _, f := range files {
			if f.role == "enroll" {
				prints = append(prints, Enrolled{f.speaker, f.vecs[mode]})
			}
		}
		simAccuracy(t, dev, p, prints)
	}
}

// identifySettings are the SpeakerEmbeddings variants measured.
var (
	defaultMargin    = speechMargin
	identifySettings = []struct {
		name   string
		margin float64
	}{
		{"solo speech, no margin", 0},
		{"solo speech + 0.25 s margin", 0.25},
		{"solo speech + 0.5 s margin", 0.5},
	}
)

type labelled struct {
	label string
	vec   []float32
}

// score reports the protocol's metrics for one way of making the vectors.
func score(prints []Enrolled, tests, impostors []labelled) string {
	labels, vecs := merge(prints)
	var tgt, non []float64
	top1 := 0
	for _, tf := range tests {
		best := -1
		for j, l := range labels {
			c := embedding.Cosine(tf.vec, vecs[j])
			if l == tf.label {
				tgt = append(tgt, c)
			} else {
				non = append(non, c)
			}
			if best < 0 || c > embedding.Cosine(tf.vec, vecs[best]) {
				best = j
			}
		}
		if labels[best] == tf.label {
			top1++
		}
	}
	var impBest []float64
	for _, imp := range impostors {
		b := -1.0
		for j := range labels {
			b = math.Max(b, embedding.Cosine(imp.vec, vecs[j]))
		}
		impBest = append(impBest, b)
	}
	sort.Float64s(impBest)
	eer, th := equalError(tgt, non)
	slope := fitSlope(tgt, non, th)
	anchored := math.Log(19) / ((median(tgt) - median(non)) / 2)
	fa50, miss50, impFA := 0, 0, 0
	for _, c := range non {
		if roundConf(Confidence(c)) >= 50 {
			fa50++
		}
	}
	for _, c := range tgt {
		if roundConf(Confidence(c)) < 50 {
			miss50++
		}
	}
	for _, c := range impBest {
		if roundConf(Confidence(c)) >= 50 {
			impFA++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  enrolled %d, test %d, impostors %d\n", len(labels), len(tests), len(impostors))
	fmt.Fprintf(&b, "  top-1 %d/%d = %.1f %%\n", top1, len(tests), 100*float64(top1)/float64(len(tests)))
	fmt.Fprintf(&b, "  EER %.2f %% at cosine %.3f (%d target, %d non-target trials)\n", 100*eer, th, len(tgt), len(non))
	fmt.Fprintf(&b, "  target cosine min %.3f p05 %.3f median %.3f; non-target median %.3f p95 %.3f max %.3f\n",
		quantile(tgt, 0), quantile(tgt, 0.05), median(tgt), median(non), quantile(non, 0.95), quantile(non, 1))
	fmt.Fprintf(&b, "  impostors' best cosine %.3f–%.3f (confidence %.0f–%.0f); impostors accepted at 50: %d/%d\n",
		impBest[0], impBest[len(impBest)-1], Confidence(impBest[0]), Confidence(impBest[len(impBest)-1]), impFA, len(impBest))
	fmt.Fprintf(&b, "  at confidence 50: false accepts %d/%d non-target trials, misses %d/%d targets\n", fa50, len(non), miss50, len(tgt))
	fmt.Fprintf(&b, "  confidence of target median %.1f, non-target median %.1f\n", Confidence(median(tgt)), Confidence(median(non)))
	for _, th := range []float64{10, 30, 50, 70, 90} {
		var miss, fa, imp int
		for _, c := range tgt {
			if roundConf(Confidence(c)) < th {
				miss++
			}
		}
		for _, c := range non {
			if roundConf(Confidence(c)) >= th {
				fa++
			}
		}
		for _, c := range impBest {
			if roundConf(Confidence(c)) >= th {
				imp++
			}
		}
		fmt.Fprintf(&b, "  threshold %2.0f: misses %d/%d targets, false accepts %d/%d non-target trials, impostors accepted %d/%d\n",
			th, miss, len(tgt), fa, len(non), imp, len(impBest))
	}
	fmt.Fprintf(&b, "  slope: balanced logistic MLE at this centre %.1f; medians→95/5 %.1f", slope, anchored)
	return b.String()
}

// equalError sweeps thresholds and returns the equal error rate and the
// threshold (midway between the scores where miss and false-accept rates
// cross).
func equalError(tgt, non []float64) (eer, threshold float64) {
	all := append(append([]float64{}, tgt...), non...)
	sort.Float64s(all)
	best := math.Inf(1)
	for i := 0; i+1 < len(all); i++ {
		th := (all[i] + all[i+1]) / 2
		miss, fa := rate(tgt, func(c float64) bool { return c < th }), rate(non, func(c float64) bool { return c >= th })
		if d := math.Abs(miss - fa); d < best || (d == best && math.Abs(th-0.6) < math.Abs(threshold-0.6)) {
			best, eer, threshold = d, (miss+fa)/2, th
		}
	}
	return eer, threshold
}

func rate(xs []float64, f func(float64) bool) float64 {
	n := 0
	for _, x := range xs {
		if f(x) {
			n++
		}
	}
	return float64(n) / float64(len(xs))
}

// fitSlope maximises the class-balanced logistic likelihood over the slope
// with the centre fixed (golden-section search on a concave function).
func fitSlope(tgt, non []float64, center float64) float64 {
	ll := func(a float64) float64 {
		var s float64
		for _, c := range tgt {
			s -= math.Log1p(math.Exp(-a*(c-center))) / float64(len(tgt))
		}
		for _, c := range non {
			s -= math.Log1p(math.Exp(a*(c-center))) / float64(len(non))
		}
		return s
	}
	lo, hi := 0.1, 500.0
	for range 200 {
		m1, m2 := lo+(hi-lo)*0.382, lo+(hi-lo)*0.618
		if ll(m1) < ll(m2) {
			lo = m1
		} else {
			hi = m2
		}
	}
	return (lo + hi) / 2
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func quantile(xs []float64, q float64) float64 {
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

// simAccuracy identifies the speakers of the LibriSpeech simulations with the
// protocol's voiceprints and scores every reference turn: right when the
// identification label most overlapping it is the speaker's own label
// (enrolled speakers) or no voiceprint label (others).
func simAccuracy(t *testing.T, dev string, p *diarize.Pipeline, prints []Enrolled) {
	roles := map[string]map[string]string{} // sim uri → speaker → role
	data, err := os.ReadFile(filepath.Join(dev, "sim", "speaker_roles.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		c := strings.Split(line, "\t")
		if i == 0 || len(c) < 3 || c[2] == "not-in-protocol" {
			continue
		}
		uri := strings.TrimSuffix(filepath.Base(c[0]), ".wav")
		if roles[uri] == nil {
			roles[uri] = map[string]string{}
		}
		roles[uri][c[1]] = c[2]
	}
	uris := make([]string, 0, len(roles))
	for u := range roles {
		uris = append(uris, u)
	}
	sort.Strings(uris)
	type tally struct {
		right, turns            int
		rightSec, sec           float64
		speakersRight, speakers int
	}
	totals := map[string]*tally{}
	ctx := context.Background()
	for _, uri := range uris {
		a := load(t, filepath.Join(dev, "sim", uri+".wav"))
		f, err := os.Open(filepath.Join(dev, "sim", uri+".rttm"))
		if err != nil {
			t.Fatal(err)
		}
		refs, err := annotation.ReadRTTM(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ref := refs[0]
		res, err := p.Diarize(ctx, a, diarize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sp, err := SpeakerEmbeddings(ctx, p, a, res)
		if err != nil {
			t.Fatal(err)
		}
		// Two voiceprint sets: only this file's enrolled speakers, and all 26.
		var own []Enrolled
		for _, e := range prints {
			if roles[uri][e.Label] == "enrolled" {
				own = append(own, e)
			}
		}
		for _, set := range []struct {
			name   string
			prints []Enrolled
		}{{"file's enrolled speakers", own}, {"all 26 enrolled", prints}} {
			inSet := map[string]bool{}
			for _, e := range set.prints {
				inSet[e.Label] = true
			}
			// Oracle naming: each diarized speaker named after the reference
			// speaker it overlaps most (when enrolled): the best any
			// matcher can do on this diarization.
			var oracle []api.SpeakerMatch
			for _, s := range res.Speakers {
				m := api.SpeakerMatch{Speaker: s}
				if r := dominantRef(res.Diarization, ref, s); inSet[r] {
					m.Match = &r
				}
				oracle = append(oracle, m)
			}
			for _, th := range []float64{0, 50, -1} {
				ms, key := oracle, set.name+", oracle naming"
				if th >= 0 {
					ms = Match(sp, res.Speakers, set.prints, true, th)
					key = fmt.Sprintf("%s, exclusive, threshold %.0f", set.name, th)
				}
				if totals[key] == nil {
					totals[key] = &tally{}
				}
				tl := totals[key]
				for i, m := range ms {
					tl.speakers++
					if (m.Match == nil) == (oracle[i].Match == nil) && (m.Match == nil || *m.Match == *oracle[i].Match) {
						tl.speakersRight++
					} else {
						t.Logf("%s [%s]: %s (%.0f s) named %v, oracle %v, confidences %v", uri, key, m.Speaker,
							speakingTime(res.Diarization)[m.Speaker], deref(m.Match), deref(oracle[i].Match), m.Confidence)
					}
				}
				fileRight, fileTurns := 0, 0
				for _, rt := range ref.Turns {
					got, bestOv := "", 0.0
					for _, it := range Output(res, ms) {
						if ov := rt.Intersect(annotation.Segment{Start: it.Start, End: it.End}).Duration(); ov > bestOv {
							got, bestOv = it.Speaker, ov
						}
					}
					want := rt.Speaker
					right := got == want
					if !inSet[want] {
						right = got != "" && !inSet[got]
					}
					fileTurns++
					tl.turns++
					tl.sec += rt.Duration()
					if right {
						fileRight++
						tl.right++
						tl.rightSec += rt.Duration()
					}
				}
				t.Logf("%s [%s]: %d/%d turns", uri, key, fileRight, fileTurns)
			}
		}
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tl := totals[k]
		t.Logf("sims 01–05 [%s]: %d/%d turns right (%.1f %%), %.1f %% of turn time; diarized speakers named as the oracle: %d/%d",
			k, tl.right, tl.turns, 100*float64(tl.right)/float64(tl.turns), 100*tl.rightSec/tl.sec, tl.speakersRight, tl.speakers)
	}
}

// dominantRef is the reference speaker overlapping diarized speaker s most.
func dominantRef(hyp, ref *annotation.Annotation, s string) string {
	ov := map[string]float64{}
	for _, h := range hyp.Turns {
		if h.Speaker != s {
			continue
		}
		for _, r := range ref.Turns {
			ov[r.Speaker] += h.Intersect(r.Segment).Duration()
		}
	}
	best := ""
	for r, d := range ov {
		if d > 0 && (best == "" || d > ov[best] || d == ov[best] && r < best) {
			best = r
		}
	}
	return best
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}
