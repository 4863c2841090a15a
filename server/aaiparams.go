package server

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/whospoke/whospoke/api/validate"
	"github.com/whospoke/whospoke/livetranscribe"
)

// aaiDefaultSessionMax is AssemblyAI's session limit without a token that
// sets max_session_duration_seconds.
const aaiDefaultSessionMax = 3 * time.Hour

// aaiParams are a /v3/ws connection's settings. Parameters whospoke does
// not implement (speech_model beyond the formatting it implies,
// language_code(s), language_detection, keyterms_prompt, include_partial_turns,
// continuous_partials, webhook_*, llm_gateway, voice_focus*, redact_pii*,
// domain, mode, …) are accepted and ignored (docs/SERVER.md).
type aaiParams struct {
	sampleRate  int
	mulaw       bool
	labels      bool
	maxSpeakers int
	// formatTurns asks for formatted finals; u3 models always format, in
	// one message, while Universal-Streaming sends the unformatted final
	// first and the formatted one after it.
	formatTurns, u3 bool
	turns           livetranscribe.TurnDetection
	inactivity      time.Duration // 0: none
	revisionEvery   time.Duration // 0: as soon as labels change
	prompt          string
}

// parseAAIParams reads the query string; an error names the parameter
// (close 3006).
func parseAAIParams(q url.Values) (aaiParams, error) {
	p := aaiParams{sampleRate: 16000, turns: livetranscribe.DefaultTurnDetection(), prompt: q.Get("prompt")}
	model := q.Get("speech_model")
	p.u3 = strings.HasPrefix(model, "u3") || strings.HasPrefix(model, "universal-3")
	switch enc := q.Get("encoding"); enc {
	case "", "pcm_s16le":
	case "pcm_mulaw":
		p.mulaw = true
	default:
		return p, fmt.Errorf("encoding %q is not supported (pcm_s16le or pcm_mulaw)", enc)
	}
	var inactivity, revision int
	for _, f := range []error{
		intParam(q, "sample_rate", &p.sampleRate, 8000, 48000),
		boolParam(q, "speaker_labels", &p.labels),
		intParam(q, "max_speakers", &p.maxSpeakers, 1, validate.LiveMaxSpeakers),
		boolParam(q, "format_turns", &p.formatTurns),
		intParam(q, "inactivity_timeout", &inactivity, 5, 3600),
		intParam(q, "speaker_labels_revision_interval_ms", &revision, 0, 3600_000),
		p.turnParams(func(k string) (string, bool) { v := q.Get(k); return v, q.Has(k) }),
	} {
		if f != nil {
			return p, f
		}
	}
	p.inactivity = time.Duration(inactivity) * time.Second
	p.revisionEvery = time.Duration(revision) * time.Millisecond
	return p, nil
}

// turnParams applies the end-of-turn parameters that both the query and
// UpdateConfiguration carry; get returns a parameter's text and presence.
func (p *aaiParams) turnParams(get func(string) (string, bool)) error {
	td := p.turns
	minMS, maxMS := int(td.MinSilence/time.Millisecond), int(td.MaxSilence/time.Millisecond)
	vals := url.Values{}
	for _, k := range []string{"end_of_turn_confidence_threshold", "vad_threshold", "format_turns",
		"min_end_of_turn_silence_when_confident", "min_turn_silence", "max_turn_silence"} {
		if v, ok := get(k); ok {
			vals.Set(k, v)
		}
	}
	for _, err := range []error{
		floatParam(vals, "end_of_turn_confidence_threshold", &td.Confidence),
		floatParam(vals, "vad_threshold", &td.VADThreshold),
		boolParam(vals, "format_turns", &p.formatTurns),
		// the deprecated name first: min_turn_silence wins when both come.
		intParam(vals, "min_end_of_turn_silence_when_confident", &minMS, 0, 60_000),
		intParam(vals, "min_turn_silence", &minMS, 0, 60_000),
		intParam(vals, "max_turn_silence", &maxMS, 0, 60_000),
	} {
		if err != nil {
			return err
		}
	}
	if minMS > maxMS {
		return fmt.Errorf("min_turn_silence (%d ms) must not exceed max_turn_silence (%d ms)", minMS, maxMS)
	}
	td.MinSilence, td.MaxSilence = time.Duration(minMS)*time.Millisecond, time.Duration(maxMS)*time.Millisecond
	if td.VADThreshold <= 0 || td.VADThreshold >= 1 {
		return fmt.Errorf("vad_threshold must be between 0 and 1, exclusive")
	}
	p.turns = td
	return nil
}

// aaiUpdate applies an UpdateConfiguration message's turn parameters;
// others are ignored like the query's.
func (p *aaiParams) aaiUpdate(msg []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return err
	}
	return p.turnParams(func(k string) (string, bool) {
		raw, ok := fields[k]
		if !ok || string(raw) == "null" {
			return "", false
		}
		return strings.Trim(string(raw), `"`), true
	})
}

func intParam(q url.Values, name string, v *int, lo, hi int) error {
	if !q.Has(name) {
		return nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%s must be an integer from %d to %d", name, lo, hi)
	}
	*v = n
	return nil
}

func floatParam(q url.Values, name string, v *float64) error {
	if !q.Has(name) {
		return nil
	}
	f, err := strconv.ParseFloat(q.Get(name), 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("%s must be a number from 0 to 1", name)
	}
	*v = f
	return nil
}

// boolParam takes true/false as JSON and URLs write them, and True/False
// as Python's urlencode does (the official SDK's query string).
func boolParam(q url.Values, name string, v *bool) error {
	if !q.Has(name) {
		return nil
	}
	switch q.Get(name) {
	case "true", "True":
		*v = true
	case "false", "False":
		*v = false
	default:
		return fmt.Errorf("%s must be true or false", name)
	}
	return nil
}
