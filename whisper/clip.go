package whisper

import (
	"context"
	"fmt"
	"math"
)

// ClipOptions control TranscribeClip.
type ClipOptions struct {
	// Language code; "" is English for English-only models and detection
	// for multilingual ones.
	Language string
	// Prompt is earlier text to condition on ("" = none), e.g. the
	// transcript so far of a live session.
	Prompt string
	// Prefix is text the clip's decoding must begin with ("" = none), e.g.
	// the words of a live turn that earlier decodes agreed on
	// (Options.Prefix).
	Prefix string
	// Short encodes the clip in a window just longer than it instead of
	// 30 s (ShortWindow), under the guard described at
	// Options.WindowFrames. It needs the variable-length files
	// (Model.VariableWindow); without them the clip gets a 30 s window.
	Short bool
	// ShortOnly (with Short) returns ErrShortWindowFailed when the short
	// window fails its guard, instead of decoding the clip again in 30 s.
	ShortOnly bool
	// RetryUnprompted (with Short and a Prompt): Options.RetryUnprompted.
	RetryUnprompted bool
	// WordTimestamps adds word times (relative to the clip's start).
	WordTimestamps bool
}

// TranscribeClip transcribes one clip of at most 30 s of 16 kHz samples,
// for live transcription: Transcribe's decoding, fallback, silence and
// word-timing rules on the clip alone, times relative to its start.
func (m *Model) TranscribeClip(ctx context.Context, samples []float32, opt ClipOptions) (*Result, error) {
	if len(samples) > WindowSamples {
		return nil, fmt.Errorf("whisper: clip of %.2f s; TranscribeClip takes at most %d s", float64(len(samples))/SampleRate, ChunkSeconds)
	}
	o := DefaultOptions()
	o.Language = opt.Language
	o.InitialPrompt = opt.Prompt
	o.Prefix = opt.Prefix
	o.WordTimestamps = opt.WordTimestamps
	o.OneWindow = true
	// A clip holds no more speech than its length: the short window's
	// token cap bounds every decode of it, so a looping decode at each
	// fallback temperature costs a few dozen steps, not 224 (live finals
	// took up to 15 s without it).
	o.MaxTokens = shortTokenCap(len(samples) / HopLength)
	if opt.Short && m.dyn {
		o.WindowFrames = ShortWindow(float64(len(samples)) / SampleRate)
		o.ShortOnly = opt.ShortOnly
		o.RetryUnprompted = opt.RetryUnprompted
	}
	return m.Transcribe(ctx, clipSource(samples), o)
}

// ShortWindow is the encoder window, in mel frames, for a clip of the given
// length: the next whole second plus one, at least 10 s, at most 30 s
// (docs/MODELS.md's recommendation: shorter windows disagree with the 30 s
// decoding far more often and loop; at least 10 s costs ≈ 7 % word
// disagreement, the fp32-vs-int8 noise floor being 4 %).
func ShortWindow(seconds float64) int {
	t := 100 * (int(math.Ceil(seconds)) + 1)
	return min(max(1000, t), WindowFrames)
}

// clipSource is a clip held in memory as a Source.
type clipSource []float32

func (c clipSource) Len() int64 { return int64(len(c)) }

func (c clipSource) ReadAt(dst []float32, off int64) (int, error) {
	if off >= int64(len(c)) {
		return 0, nil
	}
	return copy(dst, c[off:]), nil
}
