package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
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
			check(validateLive(&l), l)
		}
	})
}

// FuzzLiveFrame: a binary live message is one frame of finite samples or
// refused; the samples are the frame's floats with non-finite ones silenced.
func FuzzLiveFrame(f *testing.F) {
	frame := make([]byte, api.LiveFrameBytes)
	for i := range api.LiveFrameSamples {
		binary.LittleEndian.PutUint32(frame[4*i:], math.Float32bits(float32(math.Sin(float64(i)/10))))
	}
	f.Add(frame)
	f.Add(append([]byte{0, 0, 0xc0, 0x7f}, frame[4:]...)) // NaN
	f.Add(append([]byte{0, 0, 0x80, 0x7f}, frame[4:]...)) // +Inf
	f.Add(frame[:3200])
	f.Add(append(frame, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, bad, ok := decodeFrame(data)
		if !ok {
			if len(data) == api.LiveFrameBytes {
				t.Fatal("a full-size frame was refused")
			}
			return
		}
		if len(samples) != api.LiveFrameSamples {
			t.Fatalf("%d samples", len(samples))
		}
		n := 0
		for i, v := range samples {
			raw := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			switch {
			case math.IsNaN(float64(v)) || math.IsInf(float64(v), 0):
				t.Fatalf("sample %d is %v", i, v)
			case math.IsNaN(float64(raw)) || math.IsInf(float64(raw), 0):
				n++
			case v != raw:
				t.Fatalf("sample %d changed from %v to %v", i, raw, v)
			}
		}
		if n != bad {
			t.Fatalf("reported %d non-finite samples, found %d", bad, n)
		}
	})
}
