package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/fetch"
	"github.com/whospoke/whospoke/identify"
)

// FuzzRequestJSON sends arbitrary bodies through the request decoding and
// validation of every job and live endpoint: each answer is a list of
// field errors naming a field and saying why, or a request that passes
// and encodes again; never a panic. URLs are not resolved (no DNS here).
func FuzzRequestJSON(f *testing.F) {
	unit := make([]float32, 192)
	unit[0] = 1
	vp := identify.Encode(unit)
	for _, seed := range []string{
		`{"url":"media://a.wav","numSpeakers":2,"webhook":"https://example.com/h"}`,
		`{"url":"media://a//b","minSpeakers":3,"maxSpeakers":2,"model":"x"}`,
		`{"url":"https://example.com/a.wav","transcription":true,"transcriptionConfig":{"model":"tiny"}}`,
		`{"url":"media://a","voiceprints":[{"label":"A","voiceprint":"` + vp + `"}],"matching":{"threshold":101,"exclusive":false}}`,
		`{"maxSpeakers":3,"revision":true,"voiceprints":[{"label":"SPEAKER_1","voiceprint":"x"}]}`,
		`{"url":`, `[]`, `null`, `{"numSpeakers":"two"}`, `{"url":"media://` + string(bytes.Repeat([]byte("a"), 300)) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	s := &Server{checkURL: func(raw string) error { return fetch.CheckURL(context.Background(), raw, true) }}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(errs []api.FieldError, valid any) {
			for _, e := range errs {
				if e.Field == "" || e.Message == "" {
					t.Fatalf("field error %+v for %q", e, body)
				}
			}
			if len(errs) == 0 {
				if _, err := json.Marshal(valid); err != nil {
					t.Fatalf("valid request does not encode: %v", err)
				}
			}
		}
		req := func() *httptest.ResponseRecorder { return httptest.NewRecorder() }
		var d api.DiarizeRequest
		if errs := decodeBody(req(), httptest.NewRequest("POST", "/v1/diarize", bytes.NewReader(body)), &d); errs != nil {
			check(errs, nil)
		} else {
			check(s.validateDiarize(&d, true), d)
		}
		var id api.IdentifyRequest
		if errs := decodeBody(req(), httptest.NewRequest("POST", "/v1/identify", bytes.NewReader(body)), &id); errs == nil {
			check(s.validateIdentify(&id), id)
		}
		var l api.LiveRequest
		if errs := decodeBodyOpt(req(), httptest.NewRequest("POST", "/v1/live", bytes.NewReader(body)), &l, true); errs == nil {
			check(validateLive(&l, len(body)%2 == 0), l) // with and without live transcription
		}
	})
}
