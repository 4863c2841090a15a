package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/livetranscribe"
)

// The OpenAI Realtime transcription wire format (docs/API.md §3b). Field names
// follow the openai package's types/realtime (3.51.0).

// OpenAI audio formats: 24 kHz PCM16 and 8 kHz G.711.
const (
	oaiPCM      = "audio/pcm"
	oaiPCMU     = "audio/pcmu"
	oaiPCMA     = "audio/pcma"
	oaiPCMRate  = 24000
	oaiG711Rate = 8000
)

// oaiSession is the transcription session as session.created and
// session.updated echo it.
type oaiSession struct {
	Type      string   `json:"type"`
	Object    string   `json:"object"`
	ID        string   `json:"id"`
	ExpiresAt int64    `json:"expires_at"`
	Audio     oaiAudio `json:"audio"`
	Include   []string `json:"include"`
}

type oaiAudio struct {
	Input oaiInput `json:"input"`
}

type oaiInput struct {
	Format         oaiFormat         `json:"format"`
	NoiseReduction json.RawMessage   `json:"noise_reduction"`
	Transcription  oaiTranscription  `json:"transcription"`
	TurnDetection  *oaiTurnDetection `json:"turn_detection"`
}

type oaiFormat struct {
	Type string `json:"type"`
	Rate int    `json:"rate,omitempty"`
}

type oaiTranscription struct {
	Model    string `json:"model"`
	Language string `json:"language,omitempty"`
	Prompt   string `json:"prompt,omitempty"`
}

type oaiTurnDetection struct {
	Type              string   `json:"type"`
	Threshold         *float64 `json:"threshold,omitempty"`
	PrefixPaddingMs   *int     `json:"prefix_padding_ms,omitempty"`
	SilenceDurationMs *int     `json:"silence_duration_ms,omitempty"`
	IdleTimeoutMs     *int     `json:"idle_timeout_ms,omitempty"`
	Eagerness         string   `json:"eagerness,omitempty"`
}

// oaiDefaultSession is OpenAI's default transcription session: 24 kHz PCM16
// and server VAD (threshold 0.5, 300 ms prefix, 500 ms silence).
func oaiDefaultSession(id string, expires time.Time) oaiSession {
	th, prefix, silence := 0.5, 300, 500
	return oaiSession{Type: "transcription", Object: "realtime.transcription_session", ID: id,
		ExpiresAt: expires.Unix(), Audio: oaiAudio{Input: oaiInput{
			Format:         oaiFormat{Type: oaiPCM, Rate: oaiPCMRate},
			NoiseReduction: json.RawMessage("null"),
			Transcription:  oaiTranscription{Model: "whisper-1"},
			TurnDetection: &oaiTurnDetection{Type: "server_vad", Threshold: &th,
				PrefixPaddingMs: &prefix, SilenceDurationMs: &silence},
		}}}
}

// oaiSessionUpdate is the session of a session.update: absent fields keep
// their value; turn_detection null (as opposed to absent) means the client
// commits.
type oaiSessionUpdate struct {
	Type  string `json:"type"`
	Audio *struct {
		Input *struct {
			Format         *oaiFormat        `json:"format"`
			NoiseReduction json.RawMessage   `json:"noise_reduction"`
			Transcription  *oaiTranscription `json:"transcription"`
			TurnDetection  json.RawMessage   `json:"turn_detection"`
		} `json:"input"`
	} `json:"audio"`
	Include []string `json:"include"`
}

// oaiErr is the error of an `error` event.
type oaiErr struct {
	Type    string  `json:"type"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	EventID *string `json:"event_id"`
}

func invalidValue(param, format string, args ...any) *oaiErr {
	return &oaiErr{Type: "invalid_request_error", Code: "invalid_value", Message: fmt.Sprintf(format, args...), Param: &param}
}

// apply returns cfg updated by u, or the first invalid field.
func (u *oaiSessionUpdate) apply(cfg oaiSession) (oaiSession, *oaiErr) {
	if u.Type != "" && u.Type != "transcription" {
		return cfg, invalidValue("session.type", "Invalid value: '%s'. This socket was opened with intent=transcription; supported values are: 'transcription'.", u.Type)
	}
	if u.Include != nil {
		cfg.Include = u.Include
	}
	if u.Audio == nil || u.Audio.Input == nil {
		return cfg, nil
	}
	in := u.Audio.Input
	if f := in.Format; f != nil {
		switch {
		case f.Type != oaiPCM && f.Type != oaiPCMU && f.Type != oaiPCMA:
			return cfg, invalidValue("session.audio.input.format.type", "Invalid value: '%s'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'.", f.Type)
		case f.Type == oaiPCM && f.Rate != 0 && f.Rate != oaiPCMRate:
			return cfg, invalidValue("session.audio.input.format.rate", "Invalid value: %d. Supported values are: 24000.", f.Rate)
		}
		cfg.Audio.Input.Format = oaiFormat{Type: f.Type}
		if f.Type == oaiPCM {
			cfg.Audio.Input.Format.Rate = oaiPCMRate
		}
	}
	if in.NoiseReduction != nil {
		cfg.Audio.Input.NoiseReduction = in.NoiseReduction
	}
	if t := in.Transcription; t != nil {
		// Any model name runs the server's Whisper; the name is echoed.
		cfg.Audio.Input.Transcription = *t
	}
	if in.TurnDetection != nil {
		td, err := parseTurnDetection(in.TurnDetection)
		if err != nil {
			return cfg, err
		}
		cfg.Audio.Input.TurnDetection = td
	}
	return cfg, nil
}

func parseTurnDetection(raw json.RawMessage) (*oaiTurnDetection, *oaiErr) {
	if string(raw) == "null" {
		return nil, nil
	}
	var td oaiTurnDetection
	if err := json.Unmarshal(raw, &td); err != nil {
		return nil, invalidValue("session.audio.input.turn_detection", "Invalid 'session.audio.input.turn_detection': %v.", err)
	}
	switch {
	case td.Type != "server_vad" && td.Type != "semantic_vad":
		return nil, invalidValue("session.audio.input.turn_detection.type", "Invalid value: '%s'. Supported values are: 'server_vad' and 'semantic_vad'.", td.Type)
	case td.Threshold != nil && (*td.Threshold < 0 || *td.Threshold > 1):
		return nil, invalidValue("session.audio.input.turn_detection.threshold", "Invalid 'threshold': must be between 0 and 1.")
	case td.SilenceDurationMs != nil && (*td.SilenceDurationMs < 0 || *td.SilenceDurationMs > 60000):
		return nil, invalidValue("session.audio.input.turn_detection.silence_duration_ms", "Invalid 'silence_duration_ms': must be between 0 and 60000.")
	}
	return &td, nil
}

// turnDetection maps the session's turn_detection onto the engine's: null
// is the client's commits; server_vad (and semantic_vad, without its
// eagerness) ends turns on silence_duration_ms of silence.
func (cfg *oaiSession) turnDetection() livetranscribe.TurnDetection {
	td := livetranscribe.DefaultTurnDetection()
	o := cfg.Audio.Input.TurnDetection
	if o == nil {
		td.Mode = livetranscribe.TurnsByClient
		return td
	}
	if o.SilenceDurationMs != nil {
		// OpenAI ends the turn after exactly this silence: no later
		// maximum, and no confidence to wait for.
		td.MinSilence = time.Duration(*o.SilenceDurationMs) * time.Millisecond
		td.MaxSilence = td.MinSilence
		td.Confidence = 0
	}
	if o.Threshold != nil {
		// OpenAI takes 0 and 1; Silero's threshold must lie strictly inside.
		td.VADThreshold = min(max(*o.Threshold, 0.01), 0.99)
	}
	return td
}

// oaiDecoder turns one format's bytes into 16 kHz samples.
type oaiDecoder struct {
	format string
	rate   int
	rs     *audio.Resampler
	carry  []byte // an odd PCM16 byte, completed by the next append
	buf    []float32
}

func newOAIDecoder(format string) *oaiDecoder {
	rate := oaiG711Rate
	if format == oaiPCM {
		rate = oaiPCMRate
	}
	return &oaiDecoder{format: format, rate: rate, rs: audio.NewResampler(rate, livetranscribe.SampleRate)}
}

// decode returns the 16 kHz samples of b (reused by the next call) and how
// many seconds of input audio b held.
func (d *oaiDecoder) decode(b []byte) ([]float32, float64) {
	if d.format == oaiPCM {
		b = append(d.carry, b...)
		d.carry = nil
		if len(b)%2 == 1 {
			d.carry = []byte{b[len(b)-1]}
			b = b[:len(b)-1]
		}
		d.buf = d.buf[:0]
		for i := 0; i < len(b); i += 2 {
			d.buf = append(d.buf, float32(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
		}
	} else {
		d.buf = append(d.buf[:0], make([]float32, len(b))...)
		if d.format == oaiPCMU {
			audio.DecodeMulaw(d.buf, b)
		} else {
			audio.DecodeAlaw(d.buf, b)
		}
	}
	return d.rs.Process(d.buf), float64(len(d.buf)) / float64(d.rate)
}

// oaiSegment is one speaker's stretch of an item's words.
type oaiSegment struct {
	Speaker    string
	Start, End float64
	Text       string
}

// segments splits a final turn's words where the speaker changes. A word
// the diarizer gave nobody stays with the segment it is in (or, at the
// start, the first speaker that follows).
func segments(t *livetranscribe.Turn) []oaiSegment {
	var out []oaiSegment
	var words []string
	for _, w := range t.Words {
		n := len(out)
		switch {
		case n == 0:
			out = append(out, oaiSegment{Speaker: w.Speaker, Start: w.Start})
		case w.Speaker != "" && out[n-1].Speaker == "":
			out[n-1].Speaker = w.Speaker
		case w.Speaker != "" && w.Speaker != out[n-1].Speaker:
			out[n-1].Text = strings.Join(words, " ")
			words = words[:0]
			out = append(out, oaiSegment{Speaker: w.Speaker, Start: w.Start})
		}
		out[len(out)-1].End = w.End
		words = append(words, w.Text)
	}
	if len(out) > 0 {
		out[len(out)-1].Text = strings.Join(words, " ")
	}
	if len(out) == 1 && out[0].Speaker == "" {
		out[0].Speaker = t.Speaker
	}
	return out
}
