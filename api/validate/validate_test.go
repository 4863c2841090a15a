package validate

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/api"
)

// The media URLs a hostile probe found signed but unstorable (issue 15) are
// refused with the field and the reason; "..." is a name, not a parent.
func TestInputURLMediaKeys(t *testing.T) {
	var r Rules
	for _, raw := range []string{"media:///x.wav", "media://a//b.wav", "media://.", "media://dir/", "media://a/../b", "media://"} {
		fe := r.InputURL("url", raw)
		if fe == nil || fe.Field != "url" || !strings.HasPrefix(fe.Message, "media URL invalid key: ") {
			t.Errorf("InputURL(%q) = %+v", raw, fe)
		}
	}
	for _, raw := range []string{"media://a/.../b", "media://folder/x-1_2.WAV", "https://example.com/a.wav"} {
		if fe := r.InputURL("url", raw); fe != nil {
			t.Errorf("InputURL(%q) = %+v", raw, fe)
		}
	}
}

// User input comes back in bounded pieces: a long model name is cut, and
// so is an error message from one of the server's checks.
func TestEchoesBounded(t *testing.T) {
	long := strings.Repeat("é", 5000)
	errs := Rules{}.Diarize(&api.DiarizeRequest{URL: "media://a", Model: long})
	if len(errs) != 1 || errs[0].Field != "model" || len(errs[0].Message) > 200 || !strings.Contains(errs[0].Message, `é"…`) {
		t.Fatalf("long model: %+v", errs)
	}
	r := Rules{TranscriptionModel: func(name string) error { return errors.New("unknown transcription model " + name) }}
	errs = r.Diarize(&api.DiarizeRequest{URL: "media://a", TranscriptionConfig: &api.TranscriptionConfig{Model: long}})
	if len(errs) != 1 || errs[0].Field != "transcriptionConfig.model" || len(errs[0].Message) > 310 {
		t.Fatalf("long transcription model: %+v", errs)
	}
}

// A body over MaxBody is ErrBodyTooLarge (413), not malformed JSON.
func TestBodyTooLarge(t *testing.T) {
	big := append([]byte(`{"url":"`), bytes.Repeat([]byte("a"), MaxBody)...)
	var req api.DiarizeRequest
	errs := Body(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/diarize", bytes.NewReader(big)), &req)
	if len(errs) != 1 || errs[0] != ErrBodyTooLarge {
		t.Fatalf("oversized body: %+v", errs)
	}
}
