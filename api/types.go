// Package api holds the wire types of whospoke's pyannoteAI-compatible API,
// shared by the server, the CLI's JSON output and clients.
package api

// Turn is one diarization segment in the pyannoteAI output shape.
type Turn struct {
	Speaker string  `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	// Confidence maps speaker label → 0–100; set when turnLevelConfidence is asked for.
	Confidence map[string]float64 `json:"confidence,omitempty"`
}

// Confidence is the per-frame diarization confidence (0–100) every Resolution seconds.
type Confidence struct {
	Score      []float64 `json:"score"`
	Resolution float64   `json:"resolution"`
}

// DiarizeOutput is the output of a diarize job (and of `whospoke diarize --format json`).
type DiarizeOutput struct {
	Diarization          []Turn      `json:"diarization"`
	ExclusiveDiarization []Turn      `json:"exclusiveDiarization,omitempty"`
	Confidence           *Confidence `json:"confidence,omitempty"`
	// The transcription arrays, present when `transcription` was requested
	// (then non-nil, so that a file without speech gives [] rather than no
	// key: omitzero drops only nil).
	WordLevelTranscription []WordItem `json:"wordLevelTranscription,omitzero"`
	TurnLevelTranscription []WordItem `json:"turnLevelTranscription,omitzero"`
	Warning                string     `json:"warning,omitempty"`
}

// WordItem is one word or one turn of a transcription: its time, text and speaker.
type WordItem struct {
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
	Speaker string  `json:"speaker"`
}

// Transcription holds the two transcription arrays a diarize job adds when
// `transcription` is requested.
type Transcription struct {
	WordLevel []WordItem `json:"wordLevelTranscription"`
	TurnLevel []WordItem `json:"turnLevelTranscription"`
}
