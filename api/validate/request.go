package validate

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/whospoke/whospoke/api"
)

// LiveMaxSpeakers bounds the maxSpeakers extension of POST /v1/live.
const LiveMaxSpeakers = 20

// MaxVoiceprintLen is the longest voiceprint string a request may carry.
const MaxVoiceprintLen = 20000

// Models accepted in `model`: the vendor's names map onto whospoke's engine so
// that clients sending their defaults work unchanged.
var acceptedModels = []string{"", "precision-1", "precision-2", "community-1", "whospoke", "whospoke-1"}

// Rules are the server's side of validation: what a request is checked
// against beyond its own fields.
type Rules struct {
	// RemoteURL vets an http(s) URL once its syntax passed; the server
	// resolves the host and refuses private addresses (SSRF). Nil: syntax only.
	RemoteURL func(raw string) error
	// DecodeVoiceprint decodes an enrolled voiceprint (identify.Decode);
	// nil accepts any string of the allowed length.
	DecodeVoiceprint func(s string) error
	// TranscriptionModel checks a batch transcription model's name; nil when
	// the server has no transcriber.
	TranscriptionModel func(name string) error
	// LiveTranscription says whether live streams may ask for words.
	LiveTranscription bool
}

// InputURL checks a job's input URL: media://key or http(s).
func (r Rules) InputURL(field, raw string) *api.FieldError {
	switch {
	case raw == "":
		return &api.FieldError{Field: field, Message: "required"}
	case strings.HasPrefix(raw, "media://"):
		if err := MediaKey(strings.TrimPrefix(raw, "media://")); err != nil {
			return &api.FieldError{Field: field, Message: "media URL invalid key: " + err.Error()}
		}
		return nil
	}
	return r.remoteURL(field, raw)
}

// remoteURL refuses non-http(s) URLs, then asks RemoteURL.
func (r Rules) remoteURL(field, raw string) *api.FieldError {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &api.FieldError{Field: field, Message: "must be an http(s) URL"}
	}
	if r.RemoteURL != nil {
		if err := r.RemoteURL(raw); err != nil {
			return &api.FieldError{Field: field, Message: bounded(err)}
		}
	}
	return nil
}

// Diarize checks a POST /v1/diarize body.
func (r Rules) Diarize(req *api.DiarizeRequest) []api.FieldError {
	return r.diarize(req, true)
}

// Voiceprint checks a POST /v1/voiceprint body: the URL, webhook and model
// rules of diarize.
func (r Rules) Voiceprint(req *api.VoiceprintRequest) []api.FieldError {
	return r.diarize(&api.DiarizeRequest{URL: req.URL, Webhook: req.Webhook, Model: req.Model}, false)
}

// Identify checks a POST /v1/identify body: diarize's rules without
// transcription, and 1 to 50 voiceprints.
func (r Rules) Identify(req *api.IdentifyRequest) []api.FieldError {
	errs := r.diarize(&req.DiarizeRequest, false)
	return append(errs, r.voiceprints(req.Voiceprints, req.Matching, 1)...)
}

// Live checks a POST /v1/live body.
func (r Rules) Live(req *api.LiveRequest) []api.FieldError {
	var errs []api.FieldError
	if n := req.MaxSpeakers; n != nil && (*n < 1 || *n > LiveMaxSpeakers) {
		errs = append(errs, api.FieldError{Field: "maxSpeakers", Message: fmt.Sprintf("must be between 1 and %d", LiveMaxSpeakers)})
	}
	if req.Transcription && !r.LiveTranscription {
		errs = append(errs, api.FieldError{Field: "transcription", Message: "live transcription is not available on this server"})
	}
	if len(req.Voiceprints) > 0 || req.Matching != nil {
		errs = append(errs, r.voiceprints(req.Voiceprints, req.Matching, 0)...)
	}
	return errs
}

func (r Rules) diarize(req *api.DiarizeRequest, transcriptionAllowed bool) []api.FieldError {
	var errs []api.FieldError
	add := func(fe *api.FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	add(r.InputURL("url", req.URL))
	if req.Webhook != "" {
		add(r.remoteURL("webhook", req.Webhook))
	}
	if !slices.Contains(acceptedModels, req.Model) {
		add(&api.FieldError{Field: "model", Message: fmt.Sprintf("unknown model %s (accepted: precision-2, community-1, whospoke)", quote(req.Model))})
	}
	errs = append(errs, speakerCounts(req)...)
	if req.Transcription || (req.TranscriptionConfig != nil && req.TranscriptionConfig.Model != "") {
		switch {
		case !transcriptionAllowed:
			add(&api.FieldError{Field: "transcription", Message: "transcription is not available for this endpoint"})
		case r.TranscriptionModel == nil:
			add(&api.FieldError{Field: "transcription", Message: "transcription is not available on this server"})
		case req.TranscriptionConfig != nil:
			if err := r.TranscriptionModel(req.TranscriptionConfig.Model); err != nil {
				add(&api.FieldError{Field: "transcriptionConfig.model", Message: bounded(err)})
			}
		}
	}
	return errs
}

// speakerCounts checks numSpeakers, minSpeakers and maxSpeakers: each 1 to
// 100, and not contradicting one another.
func speakerCounts(req *api.DiarizeRequest) []api.FieldError {
	var errs []api.FieldError
	for _, c := range []struct {
		name string
		v    *int
	}{{"numSpeakers", req.NumSpeakers}, {"minSpeakers", req.MinSpeakers}, {"maxSpeakers", req.MaxSpeakers}} {
		if c.v != nil && (*c.v < 1 || *c.v > 100) {
			errs = append(errs, api.FieldError{Field: c.name, Message: "must be between 1 and 100"})
		}
	}
	if req.MinSpeakers != nil && req.MaxSpeakers != nil && *req.MinSpeakers > *req.MaxSpeakers {
		errs = append(errs, api.FieldError{Field: "minSpeakers", Message: "must not exceed maxSpeakers"})
	}
	if n := req.NumSpeakers; n != nil {
		if (req.MinSpeakers != nil && *req.MinSpeakers > *n) || (req.MaxSpeakers != nil && *req.MaxSpeakers < *n) {
			errs = append(errs, api.FieldError{Field: "numSpeakers", Message: "contradicts minSpeakers/maxSpeakers"})
		}
	}
	return errs
}

// voiceprints checks enrolled voiceprints (at least `least`, at most 50)
// and the matching options.
func (r Rules) voiceprints(prints []api.VoiceprintInput, m *api.Matching, least int) []api.FieldError {
	var errs []api.FieldError
	if n := len(prints); n < least || n > 50 {
		errs = append(errs, api.FieldError{Field: "voiceprints", Message: fmt.Sprintf("give between %d and 50 voiceprints", least)})
	}
	for i, v := range prints {
		f := fmt.Sprintf("voiceprints[%d]", i)
		switch {
		case v.Label == "" || len(v.Label) > 100:
			errs = append(errs, api.FieldError{Field: f + ".label", Message: "must be 1 to 100 characters"})
		case strings.HasPrefix(strings.ToUpper(v.Label), "SPEAKER_"):
			errs = append(errs, api.FieldError{Field: f + ".label", Message: "must not start with SPEAKER_"})
		}
		switch {
		case v.Voiceprint == "" || len(v.Voiceprint) > MaxVoiceprintLen:
			errs = append(errs, api.FieldError{Field: f + ".voiceprint", Message: fmt.Sprintf("must be 1 to %d characters", MaxVoiceprintLen)})
		case r.DecodeVoiceprint != nil:
			if err := r.DecodeVoiceprint(v.Voiceprint); err != nil {
				errs = append(errs, api.FieldError{Field: f + ".voiceprint", Message: bounded(err)})
			}
		}
	}
	if m != nil && m.Threshold != nil && (*m.Threshold < 0 || *m.Threshold > 100) {
		errs = append(errs, api.FieldError{Field: "matching.threshold", Message: "must be between 0 and 100"})
	}
	return errs
}

// quote echoes user input in a message: quoted, at most 64 bytes of it, so
// that a 4 MB field is not sent back.
func quote(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s, 64)) + "…"
}

// bounded is the message of an error from one of the server's checks, cut
// to 300 bytes: those echo what they were given (a host, a model name).
func bounded(err error) string {
	if msg := err.Error(); len(msg) > 300 {
		return cut(msg, 300) + "…"
	}
	return err.Error()
}

// cut returns at most n bytes of s, ending on a character boundary.
func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
