package live

import "github.com/whospoke/whospoke/vad"

// speechGate follows a stream with Silero VAD and says which decision cells
// may hold speech: a speaker's aggregated activity counts only there. The
// segmentation model sees 4 s at a time, and with so little context it
// bridges pauses, runs turns on and hears isolated "speakers" in silence:
// live false alarm where the reference is silent was twice offline's (46 s
// against 23 s on dev, docs/STREAMING_BENCH.md, issue 16).
//
// The gate removes only silence the VAD is sure of: frames below
// Config.SpeechGate (0.01, Silero's own floor for its silence threshold)
// for at least gateMinSilence. Silero's probability for speech it hears
// badly (far-field meeting speech, narrowband calls) falls to 0.1–0.5, not
// below 0.01, so the gate does not depend on the channel the way a gate at
// Silero's speech threshold does (0.2 removed telephone speech; measured in
// docs/STREAMING_BENCH.md).
type speechGate struct {
	stream    *vad.Stream
	threshold float32
	// minSilence and pad are in VAD frames (gateMinSilence, gatePad).
	minSilence, pad int64
	probs           []float32 // per VAD frame from base: Silero's probability
	base            int64     // VAD frame index of probs[0]
	speechEnd       int64     // 1 + the last VAD frame not sure silence (0: none)
}

const (
	gateMinSilence = 8 // frames: 256 ms
	gatePad        = 1 // frame (32 ms ≈ Silero's 30 ms speech padding)
	// vadSpeech is Silero's own speech threshold, the one the offline
	// pipeline recovers missed speech with (diarize/recover.go).
	vadSpeech = 0.5
)

func newSpeechGate(m *vad.Model, threshold float64) *speechGate {
	return &speechGate{stream: m.NewStream(), threshold: float32(threshold), minSilence: gateMinSilence, pad: gatePad}
}

// push runs the VAD on new samples.
func (g *speechGate) push(samples []float32) error {
	probs, err := g.stream.Push(samples)
	g.add(probs)
	return err
}

// add takes the VAD's probabilities of the next frames.
func (g *speechGate) add(probs []float32) {
	for _, p := range probs {
		if p >= g.threshold {
			g.speechEnd = g.base + int64(len(g.probs)) + 1
		}
		g.probs = append(g.probs, p)
	}
}

// silentFrom reports whether the stream is sure silence from sample from
// on, as far as it has been heard, and has been heard up to sample to but
// for the VAD frame still filling (up to 32 ms): every frame heard from
// the one holding sample from on is below the threshold. Samples before
// the stream's start are silence.
func (g *speechGate) silentFrom(from, to int64) bool {
	heard := g.base + int64(len(g.probs))
	return to/vad.FrameSamples <= heard && g.speechEnd <= max(from, 0)/vad.FrameSamples
}

// speech reports whether decision cell c (gridSamples long) may hold
// speech: a frame above the threshold within the padding, or a pause too
// short to count as silence. Frames not heard yet count as speech (the
// gate only removes).
func (g *speechGate) speech(c int64) bool {
	f := c*gridSamples/vad.FrameSamples - g.base
	if f < 0 || f >= int64(len(g.probs)) {
		return true
	}
	if g.near(f, g.pad) {
		return true
	}
	before, after := g.last(f, g.minSilence), g.next(f, g.minSilence)
	return before >= 0 && after >= 0 && after-before-1 < g.minSilence
}

// voiced reports whether Silero hears speech (vadSpeech) in the VAD frame
// holding decision cell c's centre; frames not heard yet are not.
func (g *speechGate) voiced(c int64) bool {
	f := (c*gridSamples+gridSamples/2)/vad.FrameSamples - g.base
	return f >= 0 && f < int64(len(g.probs)) && g.probs[f] >= vadSpeech
}

func (g *speechGate) near(f int64, d int64) bool {
	for i := max(0, f-d); i <= min(int64(len(g.probs))-1, f+d); i++ {
		if g.probs[i] >= g.threshold {
			return true
		}
	}
	return false
}

// last and next find the nearest speech frame before or after f within
// limit frames (-1: none); next counts frames not heard yet as speech.
func (g *speechGate) last(f, limit int64) int64 {
	for i := f - 1; i >= max(0, f-limit); i-- {
		if g.probs[i] >= g.threshold {
			return i
		}
	}
	return -1
}

func (g *speechGate) next(f, limit int64) int64 {
	for i := f + 1; i <= f+limit; i++ {
		if i >= int64(len(g.probs)) || g.probs[i] >= g.threshold {
			return i
		}
	}
	return -1
}

// trim forgets frames before decision cell c.
func (g *speechGate) trim(c int64) {
	f := c*gridSamples/vad.FrameSamples - g.base - g.minSilence - g.pad
	if f > 0 && f >= int64(len(g.probs))/2 {
		g.probs = append(g.probs[:0:0], g.probs[f:]...)
		g.base += f
	}
}
