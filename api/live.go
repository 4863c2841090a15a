package api

import "time"

// Live stream statuses (GET /v1/live/{id}).
const (
	LiveCreated = "created"
	LiveRunning = "running"
	LiveDone    = "done"
	LiveError   = "error"
)

// Live event types (docs/API.md §2), server to client.
const (
	EventSpeakerStart = "diarization_speaker_start"
	EventSpeakerEnd   = "diarization_speaker_end"
	EventError        = "error"
	// EventRevision (extension) carries the offline re-diarization of the
	// whole session, sent after end_of_stream when the stream asked for it.
	EventRevision = "speaker_revision"
	// EventTranscript (extension, `transcription: true`) carries a turn's
	// words: partial hypotheses (final false) while the turn is open, then
	// the final turn.
	EventTranscript = "transcript"
)

// EndOfStream is the text frame a client sends after its last audio.
const EndOfStream = "end_of_stream"

// Live audio framing: 100 ms of 16 kHz mono pcm_f32le per binary frame.
const (
	LiveSampleRate   = 16000
	LiveFrameSamples = 1600
	LiveFrameBytes   = LiveFrameSamples * 4
)

// LiveRequest is the body of POST /v1/live. Every field is an extension; an
// empty body is the vendor's call.
type LiveRequest struct {
	// MaxSpeakers caps the speakers of the stream (default 8).
	MaxSpeakers *int `json:"maxSpeakers,omitempty"`
	// Voiceprints and Matching enable live identification: events carry
	// "match" once a live speaker matches an enrolled voiceprint.
	Voiceprints []VoiceprintInput `json:"voiceprints,omitempty"`
	Matching    *Matching         `json:"matching,omitempty"`
	// Transcription adds transcript events (the server needs live
	// transcription).
	Transcription bool `json:"transcription,omitempty"`
	// Revision asks for one speaker_revision event after end_of_stream: the
	// offline pipeline's turns for the whole session.
	Revision bool `json:"revision,omitempty"`
}

// LiveSession answers POST /v1/live: the stream's ID and the single-use
// WebSocket URL (with its token) to send the audio to.
type LiveSession struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// LiveStream is GET /v1/live/{id}.
type LiveStream struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"createdAt"`
	StartedAt    *time.Time `json:"startedAt"`
	EndedAt      *time.Time `json:"endedAt"`
	AudioSeconds float64    `json:"audioSeconds"`
	Error        string     `json:"error,omitempty"`
}

// LiveEvent is one JSON text frame the server sends.
type LiveEvent struct {
	Type    string `json:"type"`
	Data    any    `json:"data,omitempty"`
	Message string `json:"message,omitempty"`
}

// SpeakerEvent is the data of a speaker start or end event.
type SpeakerEvent struct {
	Timestamp float64 `json:"timestamp"`
	Speaker   string  `json:"speaker"`
	// Match (extension) is the label of the voiceprint this speaker matched.
	Match string `json:"match,omitempty"`
}

// Transcript is the data of a transcript event. Speaker is the turn's
// dominant speaker ("" while too little of it is labelled); each word has
// its own. In a partial turn only the leading words may be final; words of
// a final turn never change.
type Transcript struct {
	Speaker string     `json:"speaker"`
	Start   float64    `json:"start"`
	End     float64    `json:"end"`
	Text    string     `json:"text"`
	Words   []WordItem `json:"words"`
	Final   bool       `json:"final"`
}

// Revision is the data of a speaker_revision event.
type Revision struct {
	Diarization []Turn `json:"diarization"`
}
