package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/fetch"
	"github.com/whospoke/whospoke/identify"
)

// maxMessage bounds a field error's message: user input is echoed only in
// bounded pieces (a media key is at most 255 bytes, quoted).
const maxMessage = 1200

// FuzzRequestJSON sends arbitrary bodies through the request decoding and
// validation of every job and live endpoint, with the server's URL policy
// (minus DNS: private hosts allowed, so nothing is resolved) and its real
// voiceprint decoder. Each answer is a list of bounded field errors naming
// a field and saying why, or a request that encodes, decodes and passes
// again (the worker reads jobs back from their stored JSON); an accepted
// media key is a clean relative path. Never a panic.
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
		`{"url":`, `[]`, `null`, `{"numSpeakers":"two"}`, `{"url":"media://` + strings.Repeat("a", 300) + `"}`,
		`{"url":"media://a/.../b"}`, `{"url":"media://a","model":"` + strings.Repeat("é", 2000) + `"}`,
		`{"url":"media://a","transcriptionConfig":{"model":"` + strings.Repeat("x", 2000) + `"}}`, `{"url":"http://:80/a"}`, `{"url":"ftp://example.com/a"}`,
	} {
		f.Add([]byte(seed))
	}
	rules := Rules{
		RemoteURL: func(raw string) error { return fetch.CheckURL(context.Background(), raw, true) },
		DecodeVoiceprint: func(s string) error {
			_, err := identify.Decode(s)
			return err
		},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := rules
		r.LiveTranscription = len(body)%2 == 0 // with and without live transcription
		if len(body)%3 == 0 {
			r.TranscriptionModel = checkTranscriptionModel
		}
		checkRequest(t, body, Body, r.Diarize)
		checkRequest(t, body, Body, r.Voiceprint)
		checkRequest(t, body, Body, r.Identify)
		checkRequest(t, body, OptionalBody, r.Live)
		checkRequest(t, body, Body, func(m *api.MediaRequest) []api.FieldError {
			if fe := r.InputURL("url", m.URL); fe != nil {
				return []api.FieldError{*fe}
			}
			return nil
		})
	})
}

// checkRequest reads body into a T with read and validates it with check.
func checkRequest[T any](t *testing.T, body []byte, read func(http.ResponseWriter, *http.Request, any) []api.FieldError, check func(*T) []api.FieldError) {
	var req T
	errs := read(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/x", bytes.NewReader(body)), &req)
	if errs == nil {
		errs = check(&req)
	}
	for _, e := range errs {
		if e.Field == "" || e.Message == "" || len(e.Message) > maxMessage {
			t.Fatalf("field error %+v (message %d bytes) for %q", e, len(e.Message), body)
		}
	}
	if len(errs) > 0 {
		return
	}
	stored, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("valid request does not encode: %v", err)
	}
	var again T
	if err := json.Unmarshal(stored, &again); err != nil {
		t.Fatalf("stored request %s does not decode: %v", stored, err)
	}
	if errs := check(&again); errs != nil {
		t.Fatalf("stored request %s fails validation: %+v (body %q)", stored, errs, body)
	}
	checkMediaKey(t, stored)
}

// checkMediaKey: an accepted media key names one file inside its team's
// directory.
func checkMediaKey(t *testing.T, stored []byte) {
	var u struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(stored, &u)
	key, ok := strings.CutPrefix(u.URL, "media://")
	if !ok {
		return
	}
	if path.Clean(key) != key || path.IsAbs(key) || key == ".." || strings.HasPrefix(key, "../") {
		t.Fatalf("media key %q accepted but not a clean relative path", key)
	}
}

// checkTranscriptionModel answers like transcribe.Service.CheckModel, which
// echoes the name it was given.
func checkTranscriptionModel(name string) error {
	if name == "tiny.en" || name == "base" {
		return nil
	}
	return fmt.Errorf("unknown transcription model %q (available: tiny.en, base)", name)
}
