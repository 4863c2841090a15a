package live

import (
	"fmt"
	"sort"

	"github.com/whospoke/whospoke/annotation"
)

// ageBins are the lower bounds (seconds into the reference turn) of
// ConfByAge's bins.
var ageBins = []float64{0, 0.5, 1, 2, 4}

// ConfByAge sums the many-to-one confusion of every confusionParts call by
// how far into its reference turn it lies.
var ConfByAge = make([]float64, len(ageBins))

// timeBins are the lower bounds (seconds into the file) of ConfByTime.
var timeBins = []float64{0, 10, 20, 40}

// ConfByTime sums the many-to-one confusion by time in the file.
var ConfByTime = make([]float64, len(timeBins))

// CarriedByAge is the part of ConfByAge where a hypothesis speaker of the
// reference speaker who spoke before the turn holds it (the last turn's
// label carried into the next).
var CarriedByAge = make([]float64, len(ageBins))

// confusionParts splits one file's confusion (10 ms frames inside the
// scored region) into what merging split speakers could fix and what it
// could not: conf is the confusion with each hypothesis speaker mapped to
// the reference speaker it overlaps most (many to one: splits cost
// nothing); minor is the speaker time of hypothesis speakers that are not
// their reference speaker's largest (splits); detail lists each hypothesis
// speaker.
func confusionParts(ref, hyp *annotation.Annotation, uem annotation.Timeline) (conf, minor float64, detail string) {
	const step = 0.01
	var end float64
	for _, s := range uem {
		end = max(end, s.End)
	}
	n := int(end/step) + 1
	scored := make([]bool, n)
	for _, s := range uem {
		for f := int(s.Start / step); f < min(n, int(s.End/step)); f++ {
			scored[f] = true
		}
	}
	frames := func(a *annotation.Annotation) (map[string][]bool, []string) {
		out := map[string][]bool{}
		for _, t := range a.Turns {
			if out[t.Speaker] == nil {
				out[t.Speaker] = make([]bool, n)
			}
			for f := max(0, int(t.Start/step+0.5)); f < min(n, int(t.End/step+0.5)); f++ {
				out[t.Speaker][f] = scored[f]
			}
		}
		return out, a.Labels()
	}
	R, rl := frames(ref)
	H, hl := frames(hyp)
	best := map[string]string{}
	over := map[string]float64{}
	dur := map[string]float64{}
	first := map[string]float64{}
	for _, h := range hl {
		first[h] = -1
		counts := map[string]int{}
		for f := range n {
			if !H[h][f] {
				continue
			}
			if first[h] < 0 {
				first[h] = float64(f) * step
			}
			dur[h] += step
			for _, r := range rl {
				if R[r][f] {
					counts[r]++
				}
			}
		}
		for _, r := range rl {
			if float64(counts[r])*step > over[h] || best[h] == "" {
				best[h], over[h] = r, float64(counts[r])*step
			}
		}
	}
	largest := map[string]string{}
	for _, h := range hl {
		if l, ok := largest[best[h]]; !ok || over[h] > over[l] {
			largest[best[h]] = h
		}
	}
	runStart := map[string]int{}
	prev := map[string]string{} // per reference speaker: who spoke last before its turn
	lastOn := map[string]int{}
	for f := range n {
		for _, r := range rl {
			if R[r][f] && (f == 0 || !R[r][f-1]) {
				runStart[r] = f
				prev[r] = ""
				at := -1
				for _, o := range rl {
					if l, ok := lastOn[o]; ok && o != r && l > at {
						prev[r], at = o, l
					}
				}
			}
		}
		var nr, nh int
		hit := map[string]bool{}
		for _, r := range rl {
			if R[r][f] {
				nr++
			}
		}
		for _, h := range hl {
			if H[h][f] {
				nh++
				if R[best[h]][f] {
					hit[best[h]] = true
				}
			}
		}
		c := min(nr, nh) - len(hit)
		conf += float64(c) * step
		if c > 0 {
			// the youngest missed reference turn
			age, youngest := -1, ""
			for _, r := range rl {
				if R[r][f] && !hit[r] && (age < 0 || f-runStart[r] < age) {
					age, youngest = f-runStart[r], r
				}
			}
			b := 0
			for b < len(ageBins)-1 && float64(age)*step >= ageBins[b+1] {
				b++
			}
			ConfByAge[b] += float64(c) * step
			tb := 0
			for tb < len(timeBins)-1 && float64(f)*step >= timeBins[tb+1] {
				tb++
			}
			ConfByTime[tb] += float64(c) * step
			carried := false
			for _, h := range hl {
				if H[h][f] && !R[best[h]][f] && best[h] == prev[youngest] {
					carried = true
				}
			}
			if carried {
				CarriedByAge[b] += float64(c) * step
			}
		}
		for _, r := range rl {
			if R[r][f] {
				lastOn[r] = f
			}
		}
	}
	sort.Slice(hl, func(i, j int) bool { return first[hl[i]] < first[hl[j]] })
	for _, h := range hl {
		tag := ""
		if largest[best[h]] != h {
			minor += dur[h]
			tag = " SPLIT"
		}
		detail += fmt.Sprintf(" %s[%.0fs %.1fs→%s %.0f%%%s]", h, first[h], dur[h], best[h], 100*over[h]/max(dur[h], step), tag)
	}
	return conf, minor, detail
}
