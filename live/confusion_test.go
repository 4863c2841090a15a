package live

import (
	"fmt"
	"sort"

	"github.com/whospoke/whospoke/annotation"
)

// Where a hypothesis's speaker confusion lies (issue 16, the live
// confusion; BENCHMARKS.md): split voices, merged voices, how far into
// the reference turn and into the file. Frames of 10 ms inside the scored
// region.

// ageBins and timeBins are the lower bounds (seconds) of the bins of
// confusion.byAge (into the reference turn) and confusion.byTime (into the
// file).
var (
	ageBins  = []float64{0, 0.5, 1, 2, 4}
	timeBins = []float64{0, 10, 20, 40}
)

const frameSec = 0.01

// confusion is one file's confusion, or a sum of files'.
type confusion struct {
	// manyToOne is the confusion with each hypothesis speaker mapped to
	// the reference speaker it overlaps most: what is left after merging
	// every voice split into several labels.
	manyToOne float64
	// split is the output time of labels that are not the largest of
	// their reference speaker's.
	split float64
	// byAge and byTime split manyToOne by how far into the reference turn
	// and into the file it lies; carried is the part of byAge where the
	// label is that of the reference speaker who spoke before the turn
	// (the previous turn's label carried into the next).
	byAge, carried []float64
	byTime         []float64
	detail         string // per label: first output, time, best reference speaker, purity
}

func newConfusion() confusion {
	return confusion{byAge: make([]float64, len(ageBins)), carried: make([]float64, len(ageBins)), byTime: make([]float64, len(timeBins))}
}

func (c *confusion) add(o confusion) {
	c.manyToOne += o.manyToOne
	c.split += o.split
	for i := range c.byAge {
		c.byAge[i] += o.byAge[i]
		c.carried[i] += o.carried[i]
	}
	for i := range c.byTime {
		c.byTime[i] += o.byTime[i]
	}
}

// frameLabels is an annotation as per-label activity on the frame grid.
type frameLabels struct {
	on     map[string][]bool
	labels []string
}

func toFrames(a *annotation.Annotation, scored []bool) frameLabels {
	out := frameLabels{on: map[string][]bool{}, labels: a.Labels()}
	for _, l := range out.labels {
		out.on[l] = make([]bool, len(scored))
	}
	for _, t := range a.Turns {
		for f := max(0, int(t.Start/frameSec+0.5)); f < min(len(scored), int(t.End/frameSec+0.5)); f++ {
			out.on[t.Speaker][f] = scored[f]
		}
	}
	return out
}

func scoredFrames(uem annotation.Timeline) []bool {
	var end float64
	for _, s := range uem {
		end = max(end, s.End)
	}
	scored := make([]bool, int(end/frameSec)+1)
	for _, s := range uem {
		for f := int(s.Start / frameSec); f < min(len(scored), int(s.End/frameSec)); f++ {
			scored[f] = true
		}
	}
	return scored
}

// bestReference maps each hypothesis label to the reference speaker it
// overlaps most, and reports the overlap and the label's output time.
func bestReference(R, H frameLabels) (best map[string]string, over, dur map[string]float64, first map[string]int) {
	best, over, dur, first = map[string]string{}, map[string]float64{}, map[string]float64{}, map[string]int{}
	for _, h := range H.labels {
		counts := map[string]int{}
		first[h] = -1
		for f, on := range H.on[h] {
			if !on {
				continue
			}
			if first[h] < 0 {
				first[h] = f
			}
			dur[h] += frameSec
			for _, r := range R.labels {
				if R.on[r][f] {
					counts[r]++
				}
			}
		}
		for _, r := range R.labels {
			if x := float64(counts[r]) * frameSec; best[h] == "" || x > over[h] {
				best[h], over[h] = r, x
			}
		}
	}
	return best, over, dur, first
}

func binOf(bins []float64, x float64) int {
	b := 0
	for b < len(bins)-1 && x >= bins[b+1] {
		b++
	}
	return b
}

// analyseConfusion splits one file's confusion (confusion).
func analyseConfusion(ref, hyp *annotation.Annotation, uem annotation.Timeline) confusion {
	scored := scoredFrames(uem)
	R, H := toFrames(ref, scored), toFrames(hyp, scored)
	best, over, dur, first := bestReference(R, H)
	c := newConfusion()
	runStart, lastOn := map[string]int{}, map[string]int{}
	prev := map[string]string{} // per reference speaker: who spoke last before its turn
	for f := range scored {
		for _, r := range R.labels {
			if R.on[r][f] && (f == 0 || !R.on[r][f-1]) {
				runStart[r], prev[r] = f, lastSpeaker(lastOn, r)
			}
		}
		c.addFrame(f, R, H, best, runStart, prev)
		for _, r := range R.labels {
			if R.on[r][f] {
				lastOn[r] = f
			}
		}
	}
	c.describe(H.labels, best, over, dur, first)
	return c
}

// lastSpeaker is the reference speaker other than r heard last.
func lastSpeaker(lastOn map[string]int, r string) string {
	who, at := "", -1
	for o, l := range lastOn {
		if o != r && (l > at || l == at && o < who) {
			who, at = o, l
		}
	}
	return who
}

// addFrame adds frame f's many-to-one confusion to c's bins.
func (c *confusion) addFrame(f int, R, H frameLabels, best map[string]string, runStart map[string]int, prev map[string]string) {
	nr, nh := 0, 0
	hit := map[string]bool{}
	for _, r := range R.labels {
		if R.on[r][f] {
			nr++
		}
	}
	for _, h := range H.labels {
		if H.on[h][f] {
			nh++
			if R.on[best[h]][f] {
				hit[best[h]] = true
			}
		}
	}
	n := min(nr, nh) - len(hit)
	if n <= 0 {
		return
	}
	x := float64(n) * frameSec
	age, youngest := -1, ""
	for _, r := range R.labels {
		if R.on[r][f] && !hit[r] && (age < 0 || f-runStart[r] < age) {
			age, youngest = f-runStart[r], r
		}
	}
	c.manyToOne += x
	b := binOf(ageBins, float64(age)*frameSec)
	c.byAge[b] += x
	c.byTime[binOf(timeBins, float64(f)*frameSec)] += x
	for _, h := range H.labels {
		if H.on[h][f] && !R.on[best[h]][f] && best[h] == prev[youngest] {
			c.carried[b] += x
			break
		}
	}
}

// describe sets c.split and c.detail.
func (c *confusion) describe(labels []string, best map[string]string, over, dur map[string]float64, first map[string]int) {
	largest := map[string]string{}
	for _, h := range labels {
		if l, ok := largest[best[h]]; !ok || over[h] > over[l] {
			largest[best[h]] = h
		}
	}
	sort.Slice(labels, func(i, j int) bool { return first[labels[i]] < first[labels[j]] })
	for _, h := range labels {
		tag := ""
		if largest[best[h]] != h {
			c.split += dur[h]
			tag = " SPLIT"
		}
		c.detail += fmt.Sprintf(" %s[%.0fs %.1fs→%s %.0f%%%s]", h, float64(first[h])*frameSec, dur[h], best[h], 100*over[h]/max(dur[h], frameSec), tag)
	}
}
