package api

import (
	"encoding/json"
	"time"
)

// Job kinds: what a job computes.
const (
	KindDiarize    = "diarize"
	KindVoiceprint = "voiceprint"
	KindIdentify   = "identify"
)

// Job statuses. Succeeded, failed and canceled are terminal.
const (
	StatusPending   = "pending"
	StatusCreated   = "created"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Terminal reports whether a job in this status will not change again.
func Terminal(status string) bool {
	return status == StatusSucceeded || status == StatusFailed || status == StatusCanceled
}

// JobCreated answers every job-creating call.
type JobCreated struct {
	JobID   string `json:"jobId"`
	Status  string `json:"status"`
	Warning string `json:"warning,omitempty"`
}

// Job is the state of one job as GET /v1/jobs/{id} returns it. Output is
// present only once the job has succeeded or failed (then it holds {"error"}).
type Job struct {
	JobID     string          `json:"jobId"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Output    json.RawMessage `json:"output,omitempty"`
}

// JobSummary is one item of GET /v2/jobs.
type JobSummary struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// JobList is a page of GET /v2/jobs, newest first.
type JobList struct {
	Items      []JobSummary `json:"items"`
	NextCursor *string      `json:"nextCursor"`
}

// ErrorOutput is the output of a failed job.
type ErrorOutput struct {
	Error string `json:"error"`
}

// TranscriptionConfig selects the speech-recognition model.
type TranscriptionConfig struct {
	Model string `json:"model,omitempty"`
}

// DiarizeRequest is the body of POST /v1/diarize. Pointers distinguish
// "absent or null" from zero, as the official clients send nulls.
type DiarizeRequest struct {
	URL                 string               `json:"url"`
	Webhook             string               `json:"webhook,omitempty"`
	WebhookStatusOnly   bool                 `json:"webhookStatusOnly,omitempty"`
	Model               string               `json:"model,omitempty"`
	NumSpeakers         *int                 `json:"numSpeakers,omitempty"`
	MinSpeakers         *int                 `json:"minSpeakers,omitempty"`
	MaxSpeakers         *int                 `json:"maxSpeakers,omitempty"`
	Exclusive           bool                 `json:"exclusive,omitempty"`
	Confidence          bool                 `json:"confidence,omitempty"`
	TurnLevelConfidence bool                 `json:"turnLevelConfidence,omitempty"`
	Transcription       bool                 `json:"transcription,omitempty"`
	TranscriptionConfig *TranscriptionConfig `json:"transcriptionConfig,omitempty"`
}

// VoiceprintRequest is the body of POST /v1/voiceprint.
type VoiceprintRequest struct {
	URL               string `json:"url"`
	Webhook           string `json:"webhook,omitempty"`
	WebhookStatusOnly bool   `json:"webhookStatusOnly,omitempty"`
	Model             string `json:"model,omitempty"`
}

// VoiceprintInput is one enrolled speaker of an identify request.
type VoiceprintInput struct {
	Label      string `json:"label"`
	Voiceprint string `json:"voiceprint"`
}

// Matching controls how diarized speakers are matched to voiceprints.
type Matching struct {
	// Exclusive forbids two speakers matching one voiceprint (default true).
	Exclusive *bool `json:"exclusive,omitempty"`
	// Threshold is the minimum confidence 0–100 of a match (default 0).
	Threshold *float64 `json:"threshold,omitempty"`
}

// IdentifyRequest is the body of POST /v1/identify.
type IdentifyRequest struct {
	DiarizeRequest
	Voiceprints []VoiceprintInput `json:"voiceprints"`
	Matching    *Matching         `json:"matching,omitempty"`
}

// VoiceprintOutput is the output of a voiceprint job.
type VoiceprintOutput struct {
	Voiceprint string `json:"voiceprint"`
}

// IdentifiedTurn is one turn of an identify output.
type IdentifiedTurn struct {
	Speaker            string  `json:"speaker"`
	Start              float64 `json:"start"`
	End                float64 `json:"end"`
	DiarizationSpeaker string  `json:"diarizationSpeaker"`
	Match              *string `json:"match"`
}

// SpeakerMatch says which voiceprint a diarized speaker matched and how well
// it scored against each.
type SpeakerMatch struct {
	Speaker    string             `json:"speaker"`
	Match      *string            `json:"match"`
	Confidence map[string]float64 `json:"confidence"`
}

// IdentifyOutput is the output of an identify job.
type IdentifyOutput struct {
	DiarizeOutput
	Identification []IdentifiedTurn `json:"identification"`
	Voiceprints    []SpeakerMatch   `json:"voiceprints"`
}

// MediaRequest is the body of POST /v1/media/input and /v1/media/output.
type MediaRequest struct {
	URL string `json:"url"`
}

// MediaURL answers it with a pre-signed URL.
type MediaURL struct {
	URL string `json:"url"`
}

// TestResponse answers GET /v1/test.
type TestResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// FieldError is one invalid field of a 400 answer.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is the 400 answer.
type ValidationError struct {
	Message string       `json:"message"`
	Errors  []FieldError `json:"errors"`
}

// Error is every other error answer (401, 402, 403, 404, 429, 5xx).
type Error struct {
	RequestID string `json:"requestId"`
	Message   string `json:"message"`
}
