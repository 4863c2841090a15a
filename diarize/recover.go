package diarize

import (
	"context"
	"math"

	"github.com/whospoke/whospoke/segmentation"
	"github.com/whospoke/whospoke/vad"
)

// vadSpeech is the Silero VAD probability from which a frame is speech (the
// model's usual threshold; 0.35 and 0.65 measured within 0.1 DER of it on
// dev, BENCHMARKS.md).
const vadSpeech = 0.5

// vadPreroll is the audio the VAD hears before each silent stretch it
// judges, so that its recurrent state has settled on the recording; a
// stretch that starts within it of the last one continues the same stream.
// Dev DER with 0.5 / 1 / 2 s: clean 14.00 / 13.94 / 13.97, phone 19.84 /
// 19.79 / 19.71, the VAD hearing 26 / 33 / 45 % of the audio
// (BENCHMARKS.md); running it over the whole file instead gave 13.92 /
// 19.62.
const vadPreroll = segmentation.SampleRate

// recoverSpeech returns, per output frame, whether the frame is speech that
// the segmentation left silent: its windows' rounded mean speaker count is
// 0 and Silero VAD says speech. Nil when the pipeline has no VAD.
//
// Why: the segmentation model, judging 10 s windows, drops speech that a
// dedicated detector hears, most of all on band-limited audio (dev phone
// condition: 13.5 % of half A's speaker time missed with no speaker output
// at all, against 5.1 % clean; issue 20). The VAD runs only over the frames
// the segmentation leaves silent, so its cost follows the recording's
// silences, not its length.
func (p *Pipeline) recoverSpeech(ctx context.Context, src Source, seg *segmentation.Output) ([]bool, error) {
	if p.vad == nil {
		return nil, nil
	}
	silent := silentFrames(seg)
	var speech []bool
	var stream *vad.Stream
	var base, pos int64 // the stream's first sample, and the next one to push
	var probs []float32
	for g0 := 0; g0 < len(silent); g0++ {
		if !silent[g0] {
			continue
		}
		g1 := g0
		for g1 < len(silent) && silent[g1] {
			g1++
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		from := max(0, frameSample(g0)-vadPreroll)
		to := min(frameSample(g1), seg.NumSamples)
		if stream == nil || from > pos {
			stream, base, pos, probs = p.vad.NewStream(), from, from, probs[:0]
		}
		var err error
		if probs, pos, err = pushSpan(stream, src, pos, to, probs); err != nil {
			return nil, err
		}
		for g := g0; g < g1; g++ {
			if j := (frameSample(g) - base) / vad.FrameSamples; j < int64(len(probs)) && probs[j] >= vadSpeech {
				if speech == nil {
					speech = make([]bool, len(silent))
				}
				speech[g] = true
			}
		}
		g0 = g1
	}
	return speech, nil
}

// frameSample is the sample at the centre of output frame g.
func frameSample(g int) int64 {
	return int64(g)*segmentation.FrameStep + segmentation.FrameSize/2
}

// pushSpan feeds samples [pos, to) of src to the stream, a block at a
// time, and returns probs with the completed frames' probabilities
// appended and the new position.
func pushSpan(stream *vad.Stream, src Source, pos, to int64, probs []float32) ([]float32, int64, error) {
	const block = 10 * segmentation.SampleRate
	buf := make([]float32, block)
	for pos < to {
		n := min(to-pos, block)
		if err := segmentation.ReadPadded(src, buf[:n], pos); err != nil {
			return nil, pos, err
		}
		out, err := stream.Push(buf[:n])
		if err != nil {
			return nil, pos, err
		}
		probs = append(probs, out...)
		pos += n
	}
	return probs, pos, nil
}

// silentFrames marks the output frames that reconstruct gives no speaker
// by count: covered by windows whose rounded mean count of active local
// speakers is 0 (summed in window order, as reconstruct sums them).
func silentFrames(seg *segmentation.Output) []bool {
	numFrames := int(math.Ceil(float64(seg.NumSamples) / segmentation.FrameStep))
	count := make([]float32, numFrames)
	cover := make([]float32, numFrames)
	for w, start := range seg.Starts {
		off := int(math.Round(float64(start) / segmentation.FrameStep))
		for f := 0; f < segmentation.NumFrames && off+f < numFrames; f++ {
			cover[off+f]++
			for _, active := range seg.Active[w][f] {
				if active {
					count[off+f]++
				}
			}
		}
	}
	silent := make([]bool, numFrames)
	for g := range silent {
		silent[g] = cover[g] > 0 && math.Round(float64(count[g]/cover[g])) == 0
	}
	return silent
}
