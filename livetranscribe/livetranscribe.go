// Package livetranscribe is whospoke's streaming transcriber: Whisper made
// to follow live audio. One Session takes 16 kHz mono samples as they
// arrive and emits turns: partial hypotheses while a turn is open (words
// are committed only once consecutive decodes agree, so a final word never
// changes), a final turn when the turn ends (silence, a speaker change, or
// the client's explicit end), and speaker revisions when the live
// diarizer's later decisions relabel words already sent.
//
// The dialects (AssemblyAI v3, OpenAI Realtime transcription, pyannoteAI
// Live with transcription) are thin adapters over Session in package
// server; this package knows nothing of their wire formats.
package livetranscribe

import (
	"errors"
	"strconv"
	"time"
)

// SampleRate is the rate, in Hz, of the samples a session takes.
const SampleRate = 16000

// ErrClosed is returned by a Session's methods after Close.
var ErrClosed = errors.New("livetranscribe: session closed")

// ErrFailed is returned by Push and EndTurn once the session's recogniser
// has died (a panic, whose value and stack Close returns): the caller
// tells its client the session failed instead of streaming into silence.
var ErrFailed = errors.New("livetranscribe: the session's recogniser failed")

// TurnMode says who ends turns.
type TurnMode int

const (
	// TurnsBySilence: the server ends a turn on silence (VAD), on a
	// speaker change, or on EndTurn (AssemblyAI; OpenAI server_vad).
	TurnsBySilence TurnMode = iota
	// TurnsByClient: only EndTurn ends a turn (OpenAI with turn_detection
	// null: the client commits the buffer).
	TurnsByClient
)

// TurnDetection are the end-of-turn settings (AssemblyAI's names).
type TurnDetection struct {
	Mode TurnMode
	// MinSilence is the silence after which a turn ends if the end-of-turn
	// confidence reaches Confidence; MaxSilence ends it regardless.
	MinSilence, MaxSilence time.Duration
	Confidence             float64
	// VADThreshold is the speech probability above which Silero's 32 ms
	// frames count as speech.
	VADThreshold float64
}

// Options configure one session.
type Options struct {
	Turns TurnDetection
	// Diarize runs the live diarizer beside recognition: words and turns
	// carry speakers, and speaker events are emitted.
	Diarize bool
	// MaxSpeakers caps the diarizer's speakers (0 = engine default).
	MaxSpeakers int
	// Partials turns on partial turns (re-decodes of the open turn).
	Partials bool
	// Language is the recognition language ("" = the model's default).
	Language string
	// Prompt is text to condition recognition on (vocabulary, names).
	Prompt string
}

// EventKind says what an Event carries.
type EventKind int

const (
	// SpeechStarted: the VAD heard speech begin at Time (server turns only).
	SpeechStarted EventKind = iota + 1
	// SpeechStopped: the open turn's speech ended at Time (server turns only;
	// the Final follows).
	SpeechStopped
	// Partial: Turn is the open turn's current hypothesis.
	Partial
	// Final: Turn has ended; its words are final.
	Final
	// Revision: Revised holds earlier final turns whose speaker labels
	// changed (words and times unchanged).
	Revision
	// SpeakerStart and SpeakerEnd: the live diarizer's events (Speaker at
	// Time), in the order it decides them.
	SpeakerStart
	SpeakerEnd
)

// Event is one thing a session reports. Times are seconds of audio from the
// session's start.
type Event struct {
	Kind    EventKind
	Time    float64
	Speaker string // SpeakerStart/SpeakerEnd: SPEAKER_00, …
	Turn    *Turn  // Partial, Final
	Revised []Turn // Revision
}

// Turn is one turn: a stretch of one person's speech (or, without
// diarization, between two ends of turn).
type Turn struct {
	// Order numbers turns from 0 in the order they started.
	Order      int
	Start, End float64
	// Text is the words joined, in Whisper's own casing and punctuation.
	Text  string
	Words []Word
	// Speaker is the dominant speaker of the turn's words (SPEAKER_00, …),
	// or "" without diarization or under MinLabelledSpeech of speech.
	Speaker string
	// EndOfTurnConfidence is how sure the session is that the turn ended
	// (0..1); finals ended by silence carry what decided them.
	EndOfTurnConfidence float64
	// Committed: the turn was ended by EndTurn (client commit or force).
	Committed bool
}

// Word is one recognised word.
type Word struct {
	Text       string // as Whisper spells it, without the leading space
	Start, End float64
	Confidence float64
	// Final: this word will not change (committed by agreement, or in a
	// final turn).
	Final bool
	// Speaker is the speaker most active inside the word's span ("" when
	// not diarized or nobody was active).
	Speaker string
}

func (k EventKind) String() string {
	switch k {
	case SpeechStarted:
		return "speech_started"
	case SpeechStopped:
		return "speech_stopped"
	case Partial:
		return "partial"
	case Final:
		return "final"
	case Revision:
		return "revision"
	case SpeakerStart:
		return "speaker_start"
	case SpeakerEnd:
		return "speaker_end"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}
