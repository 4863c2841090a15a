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
// rather than averaging measured better on dev). A frame whose count is 0
// but that speech marks (recoverSpeech; nil: none) gets one speaker, the
// most active one.
func reconstruct(seg *segmentation.Output, m *speakerMap, speech []bool) *Result {
	return reconstructBlocks(seg, m, speech, reconstructBlock)
}

// reconstructBlocks is reconstruct, accumulating block frames at a time so
// memory is O(block×K) plus the output; the result does not depend on block.
func reconstructBlocks(seg *segmentation.Output, m *speakerMap, speech []bool, block int) *Result {
	duration := float64(seg.NumSamples) / segmentation.SampleRate
	numFrames := int(math.Ceil(float64(seg.NumSamples) / segmentation.FrameStep))
	acc := newBlockSums(block, m.k)
	r := newTurnBuilder(m.k, numFrames, duration)
	r.speech = speech
	first := 0 // the first window that may reach the block
	for b0 := 0; b0 < numFrames; b0 += block {
		b1 := min(b0+block, numFrames)
		first = acc.add(seg, m, b0, b1, first)
		for g := b0; g < b1; g++ {
			r.frame(g, acc, g-b0)
		}
	}
	return r.finish(numFrames)
}

// blockSums is the windows' activity summed over a block of frames.
type blockSums struct {
	k     int
	hard  []float32 // summed hard activity, frame×speaker
	soft  []float32 // summed probabilities, frame×speaker
	count []float32 // summed local speaker counts
	cover []float32 // windows covering the frame
}

func newBlockSums(block, k int) *blockSums {
	return &blockSums{k: k, hard: make([]float32, block*k), soft: make([]float32, block*k),
		count: make([]float32, block), cover: make([]float32, block)}
}

// add sums, over frames [b0, b1), the windows from first on, and returns the
// first window that may reach the next block.
func (a *blockSums) add(seg *segmentation.Output, m *speakerMap, b0, b1, first int) int {
	clear(a.hard)
	clear(a.soft)
	clear(a.count)
	clear(a.cover)
	K := a.k
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
			a.cover[i]++
			for k := range segmentation.LocalSpeakers {
				active := seg.Active[w][f][k]
				if active {
					a.count[i]++
				}
				c := m.speakerAt(w, k, seg.Starts[w]+int64(f*segmentation.FrameStep+segmentation.FrameSize/2))
				if c < 0 {
					continue
				}
				if active {
					a.hard[i*K+c]++
				}
				a.soft[i*K+c] += seg.Probs[w][f][k]
			}
		}
	}
	return first
}

// turn is a closed turn whose confidence waits for the last names.
type turn struct {
	annotation.Turn
	frames int
	sums   []float64 // per speaker, summed act over the turn's frames
}

// turnBuilder decides each frame's speakers and turns frames into turns.
type turnBuilder struct {
	k        int
	duration float64
	on       []bool    // the current frame's speakers
	act      []float64 // the current frame's mean probabilities, capped at 1
	conf     []float64 // per frame
	names    []string  // public labels, given in order of first speech
	next     int
	turns    []turn
	open     []int       // first frame of the speaker's open turn; -1: none
	sums     [][]float64 // the open turns' sums
	res      *Result
	speech   []bool // frames recovered as speech (nil: none)
	// The exclusive run in progress.
	exclSpk, exclStart int
}

func newTurnBuilder(k, numFrames int, duration float64) *turnBuilder {
	r := &turnBuilder{k: k, duration: duration, on: make([]bool, k), act: make([]float64, k),
		conf: make([]float64, numFrames), names: make([]string, k), open: make([]int, k), sums: make([][]float64, k),
		res:     &Result{Duration: duration, Diarization: &annotation.Annotation{}, Exclusive: &annotation.Annotation{}},
		exclSpk: -1}
	for c := range r.open {
		r.open[c] = -1
	}
	return r
}

// frame decides frame g's speakers from row i of the block's sums and
// extends or closes turns.
func (r *turnBuilder) frame(g int, a *blockSums, i int) {
	clear(r.on)
	excl := -1
	if a.cover[i] > 0 {
		excl = r.decide(g, a, i)
	}
	for c := range r.k {
		if !r.on[c] {
			if r.open[c] >= 0 {
				r.closeTurn(c, g)
			}
			continue
		}
		// Public labels SPEAKER_00… in order of first appearance.
		if r.names[c] == "" {
			r.names[c] = annotation.SpeakerLabel(r.next)
			r.next++
		}
		if r.open[c] < 0 {
			r.open[c], r.sums[c] = g, make([]float64, r.k)
		}
		for o, x := range r.act {
			r.sums[c][o] += x
		}
	}
	if excl != r.exclSpk {
		r.closeExclusive(g)
		r.exclSpk, r.exclStart = excl, g
	}
}

// decide sets r.on to the frame's speakers and r.act to their activity,
// records the frame's confidence, and returns the most active speaker (-1:
// none).
func (r *turnBuilder) decide(g int, a *blockSums, i int) int {
	K := r.k
	excl := -1
	// The n (≤ 3) most active speakers, by summed hard activity, then
	// probability, then index: a few selection passes, not a sort, since
	// this runs for every frame.
	n := min(int(math.Round(float64(a.count[i]/a.cover[i]))), K)
	recovered := n == 0 && K > 0 && r.speech != nil && r.speech[g]
	if recovered {
		n = 1
	}
	row, srow := a.hard[i*K:(i+1)*K], a.soft[i*K:(i+1)*K]
	for range n {
		best := -1
		for c := range K {
			if !r.on[c] && (best < 0 || row[c] > row[best] || row[c] == row[best] && srow[c] > srow[best]) {
				best = c
			}
		}
		if row[best] <= 0 && !(recovered && srow[best] > 0) {
			break // fewer speakers active here than the count says
		}
		r.on[best] = true
		if excl < 0 {
			excl = best
		}
	}
	// Confidence: probability of the decided configuration, with each
	// speaker's activity probability averaged over covering windows.
	p := 1.0
	for c := range K {
		r.act[c] = math.Min(1, float64(srow[c]/a.cover[i]))
		if r.on[c] {
			p *= r.act[c]
		} else {
			p *= 1 - r.act[c]
		}
	}
	r.conf[g] = 100 * p
	return excl
}

func (r *turnBuilder) closeTurn(c, e int) {
	g := r.open[c]
	r.turns = append(r.turns, turn{annotation.Turn{Segment: frameSpan(g, e, r.duration), Speaker: r.names[c]}, e - g, r.sums[c]})
	r.open[c], r.sums[c] = -1, nil
}

// closeExclusive ends the exclusive run in progress, if any, at frame g.
func (r *turnBuilder) closeExclusive(g int) {
	if r.exclSpk >= 0 {
		r.res.Exclusive.Turns = append(r.res.Exclusive.Turns, annotation.Turn{Segment: frameSpan(r.exclStart, g, r.duration), Speaker: r.names[r.exclSpk]})
	}
}

// finish closes what is open at the end and returns the result.
func (r *turnBuilder) finish(numFrames int) *Result {
	for c := range r.k {
		if r.open[c] >= 0 {
			r.closeTurn(c, numFrames)
		}
	}
	r.closeExclusive(numFrames)
	res := r.res
	// (start, end, speaker) is unique: a speaker's turns are disjoint.
	sort.SliceStable(r.turns, func(i, j int) bool {
		a, b := r.turns[i], r.turns[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Speaker < b.Speaker
	})
	for _, t := range r.turns {
		// Turn-level confidence: each speaker's mean activity probability
		// over the turn's frames, for every speaker named in the end.
		tc := map[string]float64{}
		for o, s := range t.sums {
			if r.names[o] != "" {
				tc[r.names[o]] = math.Round(100 * s / float64(t.frames))
			}
		}
		res.Diarization.Turns = append(res.Diarization.Turns, t.Turn)
		res.TurnConfidence = append(res.TurnConfidence, tc)
	}
	res.Speakers = make([]string, r.next)
	for i := range r.next {
		res.Speakers[i] = annotation.SpeakerLabel(i)
	}
	res.Confidence = resampleConfidence(r.conf, r.duration)
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
