package identify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/segmentation"
)

const sampleRate = segmentation.SampleRate

// MaxVoiceprintSeconds is the longest recording a voiceprint is made from
// (the pyannoteAI limit). voiceprintSlack tolerates the few milliseconds of
// padding lossy codecs add to a clip cut at exactly 30 s.
const (
	MaxVoiceprintSeconds = 30.0
	voiceprintSlack      = 0.1
)

// MaxSpeakerSeconds caps the speech embedded per diarized speaker: enough
// for a stable vector, cheap on long files. The speech kept is spread over
// the whole file (every solo stretch is shortened in proportion).
const MaxSpeakerSeconds = 90.0

// minSoloSeconds: a speaker with less speech free of overlap is embedded
// from all its speech instead, overlap included.
const minSoloSeconds = 1.0

// speechMargin widens each speaker's turns by this much on both sides (never
// into another speaker's speech): segmentation trims word edges, and on the
// dev protocol the identify path's EER falls from 1.31 % (no margin) to
// 0.10 % with 0.25 s, the same as embedding the whole file; 0.5 s gives the
// same (docs/IDENTIFICATION.md).
var speechMargin = 0.25

var (
	// ErrTooLong: voiceprint audio longer than MaxVoiceprintSeconds.
	ErrTooLong = errors.New("voiceprint audio is longer than 30 s")
	// ErrNoSpeech: nothing in the recording to make a voiceprint from.
	ErrNoSpeech = errors.New("too little speech for a voiceprint")
)

// voiceprintMode says what Voiceprint embeds; the calibration test compares
// the modes on the dev protocol.
type voiceprintMode int

const (
	// wholeFile embeds every sample, as the tools README protocol does
	// (EER 0.10 %); the diarization only finds the dominant speaker.
	wholeFile voiceprintMode = iota
	// speechOnly embeds the dominant speaker's speech free of overlap
	// (with speechMargin), exactly as SpeakerEmbeddings embeds the speakers
	// it identifies (EER 0.03 %).
	speechOnly
)

// mode is the measured-best voiceprint mode (docs/IDENTIFICATION.md).
var mode = speechOnly

// Voiceprint returns the unit-length voiceprint of a recording of one
// speaker (at most 30 s). When the diarization finds several speakers the
// voiceprint is the dominant one's, and warning says so.
func Voiceprint(ctx context.Context, p *diarize.Pipeline, src diarize.Source) (vec []float32, warning string, err error) {
	return voiceprint(ctx, p, src, mode)
}

func voiceprint(ctx context.Context, p *diarize.Pipeline, src diarize.Source, m voiceprintMode) ([]float32, string, error) {
	dur := float64(src.Len()) / sampleRate
	if dur > MaxVoiceprintSeconds+voiceprintSlack {
		return nil, "", fmt.Errorf("%w (%.1f s)", ErrTooLong, dur)
	}
	res, err := p.Diarize(ctx, src, diarize.Options{})
	if err != nil {
		return nil, "", err
	}
	return voiceprintOf(p, src, res, m)
}

// voiceprintOf embeds src's dominant speaker after diarization res (the
// whole file when the diarization found no speech, as the segmentation can
// miss a very short or quiet clip).
func voiceprintOf(p *diarize.Pipeline, src diarize.Source, res *diarize.Result, m voiceprintMode) ([]float32, string, error) {
	dur := float64(src.Len()) / sampleRate
	talk := speakingTime(res.Exclusive)
	var dominant string
	for _, s := range res.Speakers {
		if dominant == "" || talk[s] > talk[dominant] {
			dominant = s
		}
	}
	var warning string
	if n := len(res.Speakers); n > 1 {
		warning = fmt.Sprintf("found %d speakers; the voiceprint is of the one who speaks most (%.1f s of %.1f s of speech)",
			n, talk[dominant], res.Exclusive.Speech())
	}
	if m == wholeFile || dominant == "" {
		v, err := embedRanges(p, src, annotation.Timeline{{Start: 0, End: dur}})
		if errors.Is(err, diarize.ErrTooLittleSpeech) {
			err = ErrNoSpeech
		}
		return v, warning, err
	}
	v, err := speakerVector(p, src, res.Diarization, dominant)
	if err == nil && v == nil {
		err = ErrNoSpeech
	}
	return v, warning, err
}

// speakingTime sums each speaker's turns.
func speakingTime(a *annotation.Annotation) map[string]float64 {
	t := map[string]float64{}
	for _, turn := range a.Turns {
		t[turn.Speaker] += turn.Duration()
	}
	return t
}

// SpeakerEmbeddings returns one unit vector per diarized speaker of res,
// embedded from the speech where that speaker talks alone, widened by
// speechMargin (at most MaxSpeakerSeconds of it, spread over the file): the
// same recipe as Voiceprint, so both sides of a comparison are made alike.
// Speakers with too little speech to embed are left out of the map.
func SpeakerEmbeddings(ctx context.Context, p *diarize.Pipeline, src diarize.Source, res *diarize.Result) (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, s := range res.Speakers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := speakerVector(p, src, res.Diarization, s)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[s] = v
		}
	}
	return out, nil
}

// speakerVector embeds speaker s's solo speech in a (all its speech when it
// has under minSoloSeconds alone); nil when there is too little.
func speakerVector(p *diarize.Pipeline, src diarize.Source, a *annotation.Annotation, s string) ([]float32, error) {
	dur := float64(src.Len()) / sampleRate
	var own, others annotation.Timeline
	for _, t := range a.Turns {
		if t.Speaker == s {
			own = append(own, t.Segment)
		} else {
			others = append(others, t.Segment)
		}
	}
	own = own.Union()
	if speechMargin > 0 {
		wide := make(annotation.Timeline, len(own))
		for i, seg := range own {
			wide[i] = annotation.Segment{Start: math.Max(0, seg.Start-speechMargin), End: math.Min(dur, seg.End+speechMargin)}
		}
		own = wide.Union()
	}
	speech := own.Minus(others.Union())
	if speech.Duration() < minSoloSeconds {
		speech = own
	}
	v, err := embedRanges(p, src, capped(speech))
	if errors.Is(err, diarize.ErrTooLittleSpeech) {
		return nil, nil
	}
	return v, err
}

// capped cuts t down to MaxSpeakerSeconds, spread over its whole span: long
// segments are split into 10 s pieces and every piece keeps its middle part.
func capped(t annotation.Timeline) annotation.Timeline {
	d := t.Duration()
	if d <= MaxSpeakerSeconds {
		return t
	}
	var pieces annotation.Timeline
	for _, s := range t {
		for a := s.Start; a < s.End; a += 10 {
			pieces = append(pieces, annotation.Segment{Start: a, End: math.Min(s.End, a+10)})
		}
	}
	return shrink(pieces, MaxSpeakerSeconds/d)
}

// shrink keeps the middle fraction f of every segment, so that a capped
// selection still samples the whole file.
func shrink(t annotation.Timeline, f float64) annotation.Timeline {
	out := make(annotation.Timeline, 0, len(t))
	for _, s := range t {
		mid, half := (s.Start+s.End)/2, s.Duration()*f/2
		out = append(out, annotation.Segment{Start: mid - half, End: mid + half})
	}
	return out
}

// embedRanges concatenates the audio of the given time ranges and embeds it.
func embedRanges(p *diarize.Pipeline, src diarize.Source, t annotation.Timeline) ([]float32, error) {
	sort.Slice(t, func(i, j int) bool { return t[i].Start < t[j].Start })
	var samples []float32
	for _, s := range t {
		from := max(0, int64(math.Round(s.Start*sampleRate)))
		to := min(src.Len(), int64(math.Round(s.End*sampleRate)))
		if to <= from {
			continue
		}
		buf := make([]float32, to-from)
		if err := segmentation.ReadPadded(src, buf, from); err != nil {
			return nil, err
		}
		samples = append(samples, buf...)
	}
	v, err := p.EmbedSpeech(samples)
	if err != nil {
		return nil, err
	}
	if len(v) != embedding.Dim {
		return nil, fmt.Errorf("embedding of size %d, want %d", len(v), embedding.Dim)
	}
	return v, nil
}
