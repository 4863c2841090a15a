package diarize

import "github.com/whospoke/whospoke/annotation"

// ConfidenceResolution is the spacing, in seconds, of Result.Confidence.
const ConfidenceResolution = 0.02

// Result is the diarization of one recording.
type Result struct {
	URI      string
	Duration float64 // seconds of audio
	// Diarization holds the overlapping turns, labelled SPEAKER_00… in order of
	// first appearance, sorted.
	Diarization *annotation.Annotation
	// Exclusive holds the same speakers with at most one active at a time.
	Exclusive *annotation.Annotation
	// Confidence is the per-frame confidence 0–100 every ConfidenceResolution s.
	Confidence []float64
	// TurnConfidence[i] maps each speaker label to a 0–100 confidence that
	// Diarization.Turns[i] belongs to that speaker.
	TurnConfidence []map[string]float64
	// Speakers lists the labels in order of first appearance.
	Speakers []string
}
