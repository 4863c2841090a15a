package diarize

import (
	"math"
	"sort"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/segmentation"
)

// frameSeconds is the output frame step (the segmentation model's).
const frameSeconds = float64(segmentation.FrameStep) / segmentation.SampleRate

// reconstructBlock is how many frames reconstruct accumulates at a time:
// whole-file frame×speaker arrays would take hundreds of MB on long audio.
const reconstructBlock = 8192

// reconstruct turns the windows' local activity and the speaker map into
// frame-level global activity, then turns.
//
// Per global frame: the number of speakers is the rounded mean, over the
// windows that cover it, of their active local speakers; the speakers are
// the ones with the largest activity summed over those windows (summing
// rather than averaging measured better on dev).
func reconstruct(seg *segmentation.Output, m *speakerMap) *Result {
	return reconstructBlocks(seg, m, reconstructBlock)
}

// reconstructBlocks is reconstruct, accumulating block frames at a time so
// memory is O(block×K) plus the output; the result does not depend on block.
func reconstructBlocks(seg *segmentation.Output, m *speakerMap, block int) *Result {
	duration := float64(seg.NumSamples) / segmentation.SampleRate
	numFrames := int(math.Ceil(float64(seg.NumSamples) / segmentation.FrameStep))
	K := m.k
	hard := make([]float32, block*K) // summed hard activity
	soft := make([]float32, block*K) // summed probabilities
	count := make([]float32, block)  // summed local speaker counts
	cover := make([]float32, block)  // windows covering the frame

	on := make([]bool, K)     // the current frame's speakers
	act := make([]float64, K) // the current frame's mean probabilities, capped at 1
	conf := make([]float64, numFrames)
	names := make([]string, K)
	next := 0

	// Turns close as frames go; their confidence waits for the last names.
	type turn struct {
		annotation.Turn
		frames int
		sums   []float64 // per speaker, summed act over the turn's frames
	}
	var turns []turn
	open := make([]int, K)       // first frame of the speaker's open turn; -1: none
	sums := make([][]float64, K) // the open turn's sums
	for c := range open {
		open[c] = -1
	}
	closeTurn := func(c, e int) {
		g := open[c]
		turns = append(turns, turn{annotation.Turn{Segment: frameSpan(g, e, duration), Speaker: names[c]}, e - g, sums[c]})
		open[c], sums[c] = -1, nil
	}
	res := &Result{Duration: duration, Diarization: &annotation.Annotation{}, Exclusive: &annotation.Annotation{}}
	exclSpk, exclStart := -1, 0 // the exclusive run in progress

	first := 0 // the first window that may reach the block
	for b0 := 0; b0 < numFrames; b0 += block {
		b1 := min(b0+block, numFrames)
		clear(hard)
		clear(soft)
		clear(count)
		clear(cover)
		// Windows in ascending order, as a whole-file pass would add them, so
		// the float32 sums are the same.
		for w := first; w < len(seg.Starts); w++ {
			off := int(math.Round(float64(seg.Starts[w]) / segmentation.FrameStep))
			if off >= b1 {
				break // starts are sorted
			}
			if off+segmentation.NumFrames <= b0 {
				if w == first {
					first++
				}
				continue
			}
			for f := max(0, b0-off); f < segmentation.NumFrames && off+f < b1; f++ {
				i := off + f - b0
				cover[i]++
				for k := range segmentation.LocalSpeakers {
					active := seg.Active[w][f][k]
					if active {
						count[i]++
					}
					c := m.speakerAt(w, k, seg.Starts[w]+int64(f*segmentation.FrameStep+segmentation.FrameSize/2))
					if c < 0 {
						continue
					}
					if active {
						hard[i*K+c]++
					}
					soft[i*K+c] += seg.Probs[w][f][k]
				}
			}
		}

		// Decide the active speakers of every frame.
		for g := b0; g < b1; g++ {
			i := g - b0
			clear(on)
			excl := -1
			if cover[i] > 0 {
				// The n (≤ 3) most active speakers, by summed hard activity,
				// then probability, then index: a few selection passes, not a
				// sort, since this runs for every frame.
				n := min(int(math.Round(float64(count[i]/cover[i]))), K)
				row, srow := hard[i*K:(i+1)*K], soft[i*K:(i+1)*K]
				for range n {
					best := -1
					for c := range K {
						if !on[c] && (best < 0 || row[c] > row[best] || row[c] == row[best] && srow[c] > srow[best]) {
							best = c
						}
					}
					if row[best] <= 0 {
						break // fewer speakers active here than the count says
					}
					on[best] = true
					if excl < 0 {
						excl = best
					}
				}
				// Confidence: probability of the decided configuration, with
				// each speaker's activity probability averaged over covering
				// windows.
				p := 1.0
				for c := range K {
					act[c] = math.Min(1, float64(srow[c]/cover[i]))
					if on[c] {
						p *= act[c]
					} else {
						p *= 1 - act[c]
					}
				}
				conf[g] = 100 * p
			}

			for c := range K {
				if !on[c] {
					if open[c] >= 0 {
						closeTurn(c, g)
					}
					continue
				}
				// Public labels SPEAKER_00… in order of first appearance.
				if names[c] == "" {
					names[c] = annotation.SpeakerLabel(next)
					next++
				}
				if open[c] < 0 {
					open[c], sums[c] = g, make([]float64, K)
				}
				for o, a := range act {
					sums[c][o] += a
				}
			}

			if excl != exclSpk {
				if exclSpk >= 0 {
					res.Exclusive.Turns = append(res.Exclusive.Turns, annotation.Turn{Segment: frameSpan(exclStart, g, duration), Speaker: names[exclSpk]})
				}
				exclSpk, exclStart = excl, g
			}
		}
	}
	for c := range K {
		if open[c] >= 0 {
			closeTurn(c, numFrames)
		}
	}
	if exclSpk >= 0 {
		res.Exclusive.Turns = append(res.Exclusive.Turns, annotation.Turn{Segment: frameSpan(exclStart, numFrames, duration), Speaker: names[exclSpk]})
	}

	// (start, end, speaker) is unique: a speaker's turns are disjoint.
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
	for _, t := range turns {
		// Turn-level confidence: each speaker's mean activity probability
		// over the turn's frames, for every speaker named in the end.
		tc := map[string]float64{}
		for o, s := range t.sums {
			if names[o] != "" {
				tc[names[o]] = math.Round(100 * s / float64(t.frames))
			}
		}
		res.Diarization.Turns = append(res.Diarization.Turns, t.Turn)
		res.TurnConfidence = append(res.TurnConfidence, tc)
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
