// Package transcribe makes speaker-attributed transcripts: it chooses which
// audio Whisper decodes from a diarization (speech regions or speaker
// turns), runs the recogniser, gives every word the speaker most active
// inside the word's own span (splitting a numeral read by two speakers),
// and groups words into turns.
package transcribe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/whisper"
)

// Mode says what audio Whisper decodes.
type Mode string

const (
	// ModeRegions decodes the diarization's speech regions (turns of any
	// speaker, short gaps bridged) as long-form audio, then labels each
	// word with the speaker covering it.
	ModeRegions Mode = "regions"
	// ModeTurns decodes each speaker turn on its own, so no window mixes
	// two speakers; each word keeps its turn's speaker.
	ModeTurns Mode = "turns"
	// ModeWhole decodes the whole file, silence included (the baseline
	// "diarize, then transcribe everything").
	ModeWhole Mode = "whole"
)

// DefaultMode is the mode chosen by measurement (docs/TRANSCRIPTION_BENCH.md):
// per-turn decoding lowered speaker-attributed error on one dev file of
// four, raised it on the real recordings and cost 2.5-5x the time.
const DefaultMode = ModeRegions

// Options control Transcribe. The zero value works: DefaultMode, language
// detection, openai's decoding defaults.
type Options struct {
	Mode Mode
	// Language code ("" = detect with multilingual models, English with
	// English-only ones).
	Language string
	// Pause splits turn-level items at silences longer than this (seconds;
	// 0 means 1 s).
	Pause float64
	// Pad widens each decoded region or turn by this much audio on both
	// sides (seconds; 0 means 1 s for regions, 0.2 s for turns; negative
	// means none), so that word edges the diarization clipped are heard.
	Pad float64
	// Bridge merges regions (or same-speaker turns) closer than this
	// (seconds; 0 means 5 s for regions, 0.5 s for turns). Whisper needs
	// context: cutting at every short pause cost accuracy on the dev set.
	Bridge float64
	// BatchSize is how many turn-start windows the encoder runs together
	// (0 = 1).
	BatchSize int
	// Progress, when set, receives decoding progress in frames.
	Progress func(done, total int)
	// Activity, when set, is the diarization with overlap
	// (diarize.Result.Diarization: every speaker's frame-level activity as
	// turns); each word then takes the speaker most active inside its own
	// span, so a word said over another speaker's turn keeps its speaker.
	// Nil: the exclusive diarization given to Transcribe decides.
	Activity *annotation.Annotation
}

// Validate checks the options.
func (o Options) Validate() error {
	switch o.Mode {
	case "", ModeRegions, ModeTurns, ModeWhole:
	default:
		return fmt.Errorf("transcribe: unknown mode %q (want regions, turns or whole)", o.Mode)
	}
	if o.Pause < 0 || math.IsNaN(o.Pause) || math.IsNaN(o.Pad) || o.Bridge < 0 || math.IsNaN(o.Bridge) {
		return errors.New("transcribe: pause and bridge must be numbers ≥ 0, pad a number")
	}
	return nil
}

// Result is a speaker-attributed transcript.
type Result struct {
	Language string
	// Words are in time order, each with its speaker.
	Words []api.WordItem
	// Turns are consecutive words of one speaker, split at long pauses.
	Turns []api.WordItem
}

// Transcription is the wire form of the result.
func (r *Result) Transcription() api.Transcription {
	t := api.Transcription{WordLevel: r.Words, TurnLevel: r.Turns}
	if t.WordLevel == nil {
		t.WordLevel = []api.WordItem{}
	}
	if t.TurnLevel == nil {
		t.TurnLevel = []api.WordItem{}
	}
	return t
}

// Transcribe transcribes src and attributes its words to the speakers of
// excl, an exclusive (one speaker at a time) diarization of src.
func Transcribe(ctx context.Context, m *whisper.Model, src whisper.Source, excl *annotation.Annotation, opt Options) (*Result, error) {
	if m == nil || src == nil {
		return nil, errors.New("transcribe: no model or no audio")
	}
	if excl == nil {
		return nil, errors.New("transcribe: no diarization given")
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.Mode == "" {
		opt.Mode = DefaultMode
	}
	if opt.Pause == 0 {
		opt.Pause = 1
	}
	pad := opt.Pad
	if pad == 0 {
		pad = 0.2
		if opt.Mode == ModeRegions {
			pad = 1
		}
	}
	pad = math.Max(pad, 0)
	duration := float64(src.Len()) / whisper.SampleRate

	wopt := whisper.DefaultOptions()
	wopt.Language, wopt.Progress, wopt.BatchSize = opt.Language, opt.Progress, opt.BatchSize
	turns := sortedTurns(excl)
	var clipSpeakers []string
	switch opt.Mode {
	case ModeWhole:
		// nil clips: the whole file.
	case ModeRegions:
		bridge := opt.Bridge
		if bridge == 0 {
			bridge = 5
		}
		wopt.Clips = regions(turns, pad, bridge, duration)
	case ModeTurns:
		bridge := opt.Bridge
		if bridge == 0 {
			bridge = 0.5
		}
		wopt.Clips, clipSpeakers = speakerClips(turns, pad, bridge, duration)
	}
	res := &Result{Language: opt.Language}
	if opt.Mode != ModeWhole && len(wopt.Clips) == 0 {
		// No speech anywhere: nothing to decode.
		if res.Language == "" {
			res.Language = "en"
		}
		return res, nil
	}
	r, err := m.Transcribe(ctx, src, wopt)
	if err != nil {
		return nil, err
	}
	res.Language = r.Language
	words := r.Words()
	if clipSpeakers != nil {
		res.Words = labelByClip(words, wopt.Clips, clipSpeakers)
	} else {
		attr := turns
		if opt.Activity != nil {
			attr = sortedTurns(opt.Activity)
		}
		res.Words = AssignSpeakers(words, attr)
	}
	res.Turns = GroupTurns(res.Words, opt.Pause)
	return res, nil
}

func sortedTurns(a *annotation.Annotation) []annotation.Turn {
	ts := make([]annotation.Turn, 0, len(a.Turns))
	for _, t := range a.Turns {
		if !t.Empty() {
			ts = append(ts, t)
		}
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Start < ts[j].Start })
	return ts
}

// regions is the speech timeline, padded and with short gaps bridged.
func regions(turns []annotation.Turn, pad, bridge, duration float64) [][2]float64 {
	var out [][2]float64
	for _, t := range turns {
		s, e := math.Max(0, t.Start-pad), math.Min(duration, t.End+pad)
		if n := len(out); n > 0 && s <= out[n-1][1]+bridge {
			out[n-1][1] = math.Max(out[n-1][1], e)
			continue
		}
		if e > s {
			out = append(out, [2]float64{s, e})
		}
	}
	return out
}

// speakerClips merges consecutive turns of one speaker closer than bridge,
// pads each by pad without crossing into the neighbours' turns (clips must
// stay disjoint), and returns the clips with their speakers.
func speakerClips(turns []annotation.Turn, pad, bridge, duration float64) ([][2]float64, []string) {
	type clip struct {
		s, e float64
		spk  string
	}
	var cs []clip
	for _, t := range turns {
		if n := len(cs); n > 0 && cs[n-1].spk == t.Speaker && t.Start-cs[n-1].e < bridge {
			cs[n-1].e = math.Max(cs[n-1].e, t.End)
			continue
		}
		cs = append(cs, clip{t.Start, t.End, t.Speaker})
	}
	clips := make([][2]float64, 0, len(cs))
	spk := make([]string, 0, len(cs))
	for i, c := range cs {
		lo, hi := 0.0, duration
		if i > 0 {
			lo = cs[i-1].e
		}
		if i+1 < len(cs) {
			hi = cs[i+1].s
		}
		s := math.Max(math.Max(c.s-pad, lo), 0)
		e := math.Min(math.Min(c.e+pad, hi), duration)
		if n := len(clips); n > 0 {
			s = math.Max(s, clips[n-1][1])
		}
		if e-s < 0.05 {
			continue
		}
		clips = append(clips, [2]float64{s, e})
		spk = append(spk, c.spk)
	}
	return clips, spk
}

// labelByClip gives each word the speaker of the clip it was decoded in
// (the clip containing its midpoint, else the nearest).
func labelByClip(words []whisper.Word, clips [][2]float64, spk []string) []api.WordItem {
	out := make([]api.WordItem, 0, len(words))
	for _, w := range words {
		text := strings.TrimSpace(w.Text)
		if text == "" {
			continue
		}
		mid := (w.Start + w.End) / 2
		best, bestD := 0, math.Inf(1)
		for i, c := range clips {
			d := math.Max(c[0]-mid, mid-c[1])
			if d < bestD {
				best, bestD = i, d
			}
		}
		out = append(out, api.WordItem{Start: annotation.Millis(w.Start), End: annotation.Millis(w.End), Text: text, Speaker: spk[best]})
	}
	return out
}

// AssignSpeakers gives each word the speaker most active inside the
// word's span (turns may overlap: each speaker's turns count for it); a
// word no turn touches takes the nearest turn's speaker. A numeral whose
// digits span a speaker change is split there: each digit is a spoken word,
// timed by its token's aligned time (shared evenly by a token's digits).
// turns must be sorted by start.
func AssignSpeakers(words []whisper.Word, turns []annotation.Turn) []api.WordItem {
	out := make([]api.WordItem, 0, len(words))
	for _, w := range words {
		text := strings.TrimSpace(w.Text)
		if text == "" {
			continue
		}
		if parts := splitNumeral(w, turns); len(parts) > 1 {
			out = append(out, parts...)
			continue
		}
		out = append(out, api.WordItem{Start: annotation.Millis(w.Start), End: annotation.Millis(w.End), Text: text, Speaker: mostActive(turns, w.Start, w.End)})
	}
	return out
}

// mostActive is the speaker with most time inside [s, e] among turns
// (sorted by start), else the speaker of the nearest turn; ties go to the
// smaller label.
func mostActive(turns []annotation.Turn, s, e float64) string {
	var act map[string]float64
	speaker, best := "", 0.0
	nearest, nearestD := "", math.Inf(1)
	for _, t := range turns {
		if t.Start > e+30 {
			break
		}
		if o := math.Min(t.End, e) - math.Max(t.Start, s); o > 0 {
			if act == nil {
				act = map[string]float64{}
			}
			act[t.Speaker] += o
			if a := act[t.Speaker]; a > best || (a == best && t.Speaker < speaker) {
				speaker, best = t.Speaker, a
			}
		}
		if d := math.Max(0, math.Max(t.Start-e, s-t.End)); d < nearestD {
			nearest, nearestD = t.Speaker, d
		}
	}
	if speaker == "" {
		return nearest
	}
	return speaker
}

// splitNumeral cuts a word with digits into runs of one speaker (each
// digit timed by its token, a multi-digit token's time shared evenly);
// other characters stay with the digit before them. It returns nil unless
// the word holds digits of more than one speaker.
func splitNumeral(w whisper.Word, turns []annotation.Turn) []api.WordItem {
	type unit struct {
		text       string
		start, end float64
		digit      bool
	}
	var units []unit
	for _, p := range w.Pieces {
		digits := strings.TrimSpace(p.Text)
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			units = append(units, unit{text: p.Text, start: p.Start, end: p.End})
			continue
		}
		step := (p.End - p.Start) / float64(len(digits))
		lead := p.Text[:len(p.Text)-len(strings.TrimLeft(p.Text, " "))]
		for i := range len(digits) {
			units = append(units, unit{lead + digits[i:i+1], p.Start + float64(i)*step, p.Start + float64(i+1)*step, true})
			lead = ""
		}
	}
	var out []api.WordItem
	speaker := ""
	for _, u := range units {
		if u.digit {
			speaker = mostActive(turns, u.start, u.end)
		}
		if n := len(out); n > 0 && (!u.digit || out[n-1].Speaker == speaker || out[n-1].Speaker == "") {
			out[n-1].Speaker = cmp.Or(out[n-1].Speaker, speaker) // leading punctuation joins the first digit
			out[n-1].Text += u.text
			out[n-1].End = annotation.Millis(u.end)
			continue
		}
		out = append(out, api.WordItem{Start: annotation.Millis(u.start), End: annotation.Millis(u.end), Text: u.text, Speaker: speaker})
	}
	if len(out) < 2 {
		return nil
	}
	for i := range out {
		out[i].Text = strings.TrimSpace(out[i].Text)
	}
	return out
}

// GroupTurns joins consecutive words of one speaker into turns, starting a
// new turn at a speaker change or a pause longer than pause seconds.
func GroupTurns(words []api.WordItem, pause float64) []api.WordItem {
	var out []api.WordItem
	for _, w := range words {
		if n := len(out); n > 0 && out[n-1].Speaker == w.Speaker && w.Start-out[n-1].End <= pause {
			out[n-1].End = math.Max(out[n-1].End, w.End)
			out[n-1].Text += " " + w.Text
			continue
		}
		out = append(out, w)
	}
	return out
}
