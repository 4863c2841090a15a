package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/media"
)

// Models accepted in `model`: the vendor's names map onto whospoke's engine so
// that clients sending their defaults work unchanged.
var acceptedModels = []string{"", "precision-1", "precision-2", "community-1", "whospoke", "whospoke-1"}

// maxRequestBody bounds JSON bodies: 50 voiceprints of 20,000 chars fit well.
const maxRequestBody = 4 << 20

// errBodyTooLarge is answered with 413 (writeInvalid), not 400.
var errBodyTooLarge = api.FieldError{Field: "body", Message: fmt.Sprintf("request body larger than %d bytes", maxRequestBody)}

// decodeBody reads one JSON object into v; unknown fields are ignored (the
// official clients pass extra keyword arguments through).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) []api.FieldError {
	return decodeBodyOpt(w, r, v, false)
}

// decodeBodyOpt is decodeBody where optional allows an empty body (v keeps
// its zero value).
func decodeBodyOpt(w http.ResponseWriter, r *http.Request, v any, optional bool) []api.FieldError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return []api.FieldError{errBodyTooLarge}
		}
		return []api.FieldError{{Field: "body", Message: "could not read request body"}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return []api.FieldError{{Field: "body", Message: "request body must be a JSON object"}}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return []api.FieldError{{Field: te.Field, Message: fmt.Sprintf("must be %s", jsonKind(te.Type.Kind().String()))}}
		}
		return []api.FieldError{{Field: "body", Message: "malformed JSON: " + err.Error()}}
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	}
	return "an object"
}

// checkInputURL validates a job's `url`: media://key or http(s).
func (s *Server) checkInputURL(field, raw string) *api.FieldError {
	switch {
	case raw == "":
		return &api.FieldError{Field: field, Message: "required"}
	case strings.HasPrefix(raw, "media://"):
		// The stores' own check, so that every key accepted here can be stored.
		if err := media.ValidKey(strings.TrimPrefix(raw, "media://")); err != nil {
			return &api.FieldError{Field: field, Message: "media URL " + strings.TrimPrefix(err.Error(), "media: ")}
		}
		return nil
	}
	return s.checkRemoteURL(field, raw)
}

// checkRemoteURL refuses non-http(s) URLs and, unless allowed, URLs whose host
// resolves to a private, loopback or link-local address (SSRF).
func (s *Server) checkRemoteURL(field, raw string) *api.FieldError {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &api.FieldError{Field: field, Message: "must be an http(s) URL"}
	}
	if err := s.checkURL(raw); err != nil {
		return &api.FieldError{Field: field, Message: err.Error()}
	}
	return nil
}

func (s *Server) validateDiarize(req *api.DiarizeRequest, transcriptionAllowed bool) []api.FieldError {
	var errs []api.FieldError
	add := func(fe *api.FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	add(s.checkInputURL("url", req.URL))
	if req.Webhook != "" {
		add(s.checkRemoteURL("webhook", req.Webhook))
	}
	if !slices.Contains(acceptedModels, req.Model) {
		add(&api.FieldError{Field: "model", Message: fmt.Sprintf("unknown model %q (accepted: precision-2, community-1, whospoke)", req.Model)})
	}
	for _, c := range []struct {
		name string
		v    *int
	}{{"numSpeakers", req.NumSpeakers}, {"minSpeakers", req.MinSpeakers}, {"maxSpeakers", req.MaxSpeakers}} {
		if c.v != nil && (*c.v < 1 || *c.v > 100) {
			add(&api.FieldError{Field: c.name, Message: "must be between 1 and 100"})
		}
	}
	if req.MinSpeakers != nil && req.MaxSpeakers != nil && *req.MinSpeakers > *req.MaxSpeakers {
		add(&api.FieldError{Field: "minSpeakers", Message: "must not exceed maxSpeakers"})
	}
	if n := req.NumSpeakers; n != nil {
		if (req.MinSpeakers != nil && *req.MinSpeakers > *n) || (req.MaxSpeakers != nil && *req.MaxSpeakers < *n) {
			add(&api.FieldError{Field: "numSpeakers", Message: "contradicts minSpeakers/maxSpeakers"})
		}
	}
	if req.Transcription || (req.TranscriptionConfig != nil && req.TranscriptionConfig.Model != "") {
		switch {
		case !transcriptionAllowed:
			add(&api.FieldError{Field: "transcription", Message: "transcription is not available for this endpoint"})
		case s.transcriber == nil:
			add(&api.FieldError{Field: "transcription", Message: "transcription is not available on this server"})
		case req.TranscriptionConfig != nil:
			if err := s.transcriber.CheckModel(req.TranscriptionConfig.Model); err != nil {
				add(&api.FieldError{Field: "transcriptionConfig.model", Message: err.Error()})
			}
		}
	}
	return errs
}

func (s *Server) validateIdentify(req *api.IdentifyRequest) []api.FieldError {
	errs := s.validateDiarize(&req.DiarizeRequest, false)
	return append(errs, validateVoiceprints(req.Voiceprints, req.Matching, 1)...)
}

// validateVoiceprints checks enrolled voiceprints (at least `least`, at
// most 50) and the matching options.
func validateVoiceprints(prints []api.VoiceprintInput, m *api.Matching, least int) []api.FieldError {
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
		if v.Voiceprint == "" || len(v.Voiceprint) > 20000 {
			errs = append(errs, api.FieldError{Field: f + ".voiceprint", Message: "must be 1 to 20000 characters"})
		} else if _, err := identify.Decode(v.Voiceprint); err != nil {
			errs = append(errs, api.FieldError{Field: f + ".voiceprint", Message: err.Error()})
		}
	}
	if m != nil && m.Threshold != nil && (*m.Threshold < 0 || *m.Threshold > 100) {
		errs = append(errs, api.FieldError{Field: "matching.threshold", Message: "must be between 0 and 100"})
	}
	return errs
}
