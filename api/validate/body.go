// Package validate decodes and checks the JSON bodies of whospoke's job,
// media and live requests, turning every problem into an api.FieldError that
// names the field and says why. It holds the one media-key rule shared by the
// API and the media stores. It imports no store, queue or model, so that its
// fuzz target runs fast; the checks that need the server (URL policy,
// voiceprint decoding, transcription models) come in through Rules.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/whospoke/whospoke/api"
)

// MaxBody bounds JSON bodies: 50 voiceprints of 20,000 chars fit well.
const MaxBody = 4 << 20

// ErrBodyTooLarge is the field error of a body over MaxBody; the server
// answers it with 413, not 400.
var ErrBodyTooLarge = api.FieldError{Field: "body", Message: fmt.Sprintf("request body larger than %d bytes", MaxBody)}

// Body reads one JSON object from r into v; unknown fields are ignored (the
// official clients pass extra keyword arguments through).
func Body(w http.ResponseWriter, r *http.Request, v any) []api.FieldError {
	return readBody(w, r, v, false)
}

// OptionalBody is Body where an empty body is allowed (v keeps its zero
// value).
func OptionalBody(w http.ResponseWriter, r *http.Request, v any) []api.FieldError {
	return readBody(w, r, v, true)
}

func readBody(w http.ResponseWriter, r *http.Request, v any, optional bool) []api.FieldError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return []api.FieldError{ErrBodyTooLarge}
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
