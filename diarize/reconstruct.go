package diarize

import (
	"math"
	"sort"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/segmentation"
)

// frameSeconds is the output frame step (the segmentation model's).
const frameSeconds = float64(segmentation.FrameStep) / segmentation.SampleRate

// reconstruct turns the windows' local activity and the speaker map into
// frame-level global activity, then turns.
//
// Per global frame: the number of speakers is the rounded mean, over the
// windows that cover it, of their active local speakers; the speakers are
// the ones with the largest activity summed over those windows (summing
// rather than averaging measured better on dev).
func reconstruct(seg *segmentation.Output, m *speakerMap) *Result {
	duration := float64(seg.NumSamples) / segmentation.SampleRate
	numFrames := int(math.Ceil(float64(seg.NumSamples) / segmentation.FrameStep))
	K := m.k
	hard := make([]float32, numFrames*K) // summed hard activity
	soft := make([]float32, numFrames*K) // summed probabilities
	count := make([]float32, numFrames)  // summed local speaker counts
	cover := make([]float32, numFrames)  // windows covering the frame
	for w, start := range seg.Starts {
		off := int(math.Round(float64(start) / segmentation.FrameStep))
		for f := range segmentation.NumFrames {
			g := off + f
			if g >= numFrames {
				break
			}
			cover[g]++
			for k := range segmentation.LocalSpeakers {
				active := seg.Active[w][f][k]
				if active {
					count[g]++
				}
				c := m.window[w][k]
				if c < 0 {
					continue
				}
				if active {
					hard[g*K+c]++
				}
				soft[g*K+c] += seg.Probs[w][f][k]
			}
		}
	}

	// Decide the active speakers of every frame.
	on := make([]bool, numFrames*K)
	excl := make([]int, numFrames)
	conf := make([]float64, numFrames)
	for g := range numFrames {
		excl[g] = -1
		if cover[g] == 0 {
			continue
		}
		// The n (≤ 3) most active speakers, by summed hard activity, then
		// probability, then index: a few selection passes, not a sort, since
		// this runs for every frame.
		n := min(int(math.Round(float64(count[g]/cover[g]))), K)
		row, srow := hard[g*K:(g+1)*K], soft[g*K:(g+1)*K]
		picked := on[g*K : (g+1)*K]
		for range n {
			best := -1
			for c := range K {
				if !picked[c] && (best < 0 || row[c] > row[best] || row[c] == row[best] && srow[c] > srow[best]) {
					best = c
				}
			}
			if row[best] <= 0 {
				break // fewer speakers active here than the count says
			}
			picked[best] = true
			if excl[g] < 0 {
				excl[g] = best
			}
		}
		// Confidence: probability of the decided configuration, with each
		// speaker's activity probability averaged over covering windows.
		p := 1.0
		for c := range K {
			a := math.Min(1, float64(soft[g*K+c]/cover[g]))
			if on[g*K+c] {
				p *= a
			} else {
				p *= 1 - a
			}
		}
		conf[g] = 100 * p
	}

	// Public labels SPEAKER_00… in order of first appearance.
	names := make([]string, K)
	next := 0
	for g := range numFrames {
		for c := range K {
			if on[g*K+c] && names[c] == "" {
				names[c] = annotation.SpeakerLabel(next)
				next++
			}
		}
	}

	type turn struct {
		annotation.Turn
		conf map[string]float64
	}
	var turns []turn
	for c := range K {
		for g := 0; g < numFrames; {
			if !on[g*K+c] {
				g++
				continue
			}
			e := g
			for e < numFrames && on[e*K+c] {
				e++
			}
			// Turn-level confidence: each speaker's mean activity
			// probability over the turn's frames.
			tc := map[string]float64{}
			for o := range K {
				if names[o] == "" {
					continue
				}
				var s float64
				for f := g; f < e; f++ {
					s += math.Min(1, float64(soft[f*K+o]/max(cover[f], 1)))
				}
				tc[names[o]] = math.Round(100 * s / float64(e-g))
			}
			turns = append(turns, turn{annotation.Turn{Segment: frameSpan(g, e, duration), Speaker: names[c]}, tc})
			g = e
		}
	}
	sort.SliceStable(turns, func(i, j int) bool {
		a, b := turns[i], turns[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Speaker < b.Speaker
	})
	res := &Result{Duration: duration, Diarization: &annotation.Annotation{}, Exclusive: &annotation.Annotation{}}
	for _, t := range turns {
		res.Diarization.Turns = append(res.Diarization.Turns, t.Turn)
		res.TurnConfidence = append(res.TurnConfidence, t.conf)
	}
	for g := 0; g < numFrames; {
		c := excl[g]
		e := g + 1
		for e < numFrames && excl[e] == c {
			e++
		}
		if c >= 0 {
			res.Exclusive.Turns = append(res.Exclusive.Turns, annotation.Turn{Segment: frameSpan(g, e, duration), Speaker: names[c]})
		}
		g = e
	}
	res.Speakers = make([]string, next)
	for i := range next {
		res.Speakers[i] = annotation.SpeakerLabel(i)
	}
	res.Confidence = resampleConfidence(conf, duration)
	return res
}

// frameSpan is the time covered by output frames [g, e): each frame stands
// for the frameSeconds around its centre, clipped to the audio.
func frameSpan(g, e int, duration float64) annotation.Segment {
	centre := float64(segmentation.FrameSize/2) / segmentation.SampleRate
	start := centre + (float64(g)-0.5)*frameSeconds
	end := centre + (float64(e)-0.5)*frameSeconds
	return annotation.Segment{Start: annotation.Millis(math.Max(0, start)), End: annotation.Millis(math.Min(duration, end))}
}

// resampleConfidence maps per-frame confidences onto the public
// ConfidenceResolution grid (nearest frame).
func resampleConfidence(conf []float64, duration float64) []float64 {
	n := int(math.Ceil(duration / ConfidenceResolution))
	out := make([]float64, n)
	centre := float64(segmentation.FrameSize/2) / segmentation.SampleRate
	for i := range out {
		t := (float64(i) + 0.5) * ConfidenceResolution
		g := int(math.Round((t - centre) / frameSeconds))
		g = max(0, min(len(conf)-1, g))
		if len(conf) > 0 {
			out[i] = math.Round(conf[g])
		}
	}
	return out
}
