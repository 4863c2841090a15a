package server

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/whospoke/whospoke/livetranscribe"
)

// AssemblyAI Universal-Streaming v3 messages (docs/API.md §3). Times are
// integer milliseconds from the stream's start, as the official SDK's
// pydantic types require.

type aaiBegin struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	ExpiresAt int64  `json:"expires_at"`
}

type aaiWord struct {
	Start       int64   `json:"start"`
	End         int64   `json:"end"`
	Text        string  `json:"text"`
	Confidence  float64 `json:"confidence"`
	WordIsFinal bool    `json:"word_is_final"`
	Speaker     string  `json:"speaker,omitempty"`
}

type aaiTurn struct {
	Type                string    `json:"type"`
	TurnOrder           int       `json:"turn_order"`
	TurnIsFormatted     bool      `json:"turn_is_formatted"`
	EndOfTurn           bool      `json:"end_of_turn"`
	Transcript          string    `json:"transcript"`
	EndOfTurnConfidence float64   `json:"end_of_turn_confidence"`
	Words               []aaiWord `json:"words"`
	Utterance           string    `json:"utterance"`
	SpeakerLabel        string    `json:"speaker_label,omitempty"`
}

type aaiSpeechStarted struct {
	Type       string  `json:"type"`
	Timestamp  int64   `json:"timestamp"`
	Confidence float64 `json:"confidence"`
}

type aaiRevisionItem struct {
	TurnOrder    int       `json:"turn_order"`
	SpeakerLabel string    `json:"speaker_label"`
	Words        []aaiWord `json:"words"`
}

type aaiRevision struct {
	Type      string            `json:"type"`
	Revisions []aaiRevisionItem `json:"revisions"`
}

type aaiTermination struct {
	Type                   string `json:"type"`
	AudioDurationSeconds   int64  `json:"audio_duration_seconds"`
	SessionDurationSeconds int64  `json:"session_duration_seconds"`
}

// aaiUnknownSpeaker labels turns with too little speech to attribute.
const aaiUnknownSpeaker = "UNKNOWN"

// aaiLabel maps a diarizer label to AssemblyAI's: SPEAKER_00 → A,
// SPEAKER_01 → B, …, SPEAKER_26 → AA; "" (or anything unparsable) → UNKNOWN.
func aaiLabel(speaker string) string {
	n, err := strconv.Atoi(strings.TrimPrefix(speaker, "SPEAKER_"))
	if speaker == "" || err != nil || n < 0 {
		return aaiUnknownSpeaker
	}
	label := ""
	for n++; n > 0; n = (n - 1) / 26 {
		label = string(rune('A'+(n-1)%26)) + label
	}
	return label
}

func aaiMillis(sec float64) int64 { return int64(math.Round(sec * 1000)) }

// aaiUnformatted is a word as AssemblyAI's unformatted transcripts give it:
// lower case, without punctuation (apostrophes kept: "don't").
func aaiUnformatted(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			return unicode.ToLower(r)
		case r == '’':
			return '\''
		}
		return -1
	}, s)
}

// aaiTurnMessage is the Turn message of t. Partial turns are unformatted
// and, like AssemblyAI's, put only their final words in transcript; final
// ones carry the whole text and utterance. Speakers appear only with
// speaker labels: the turn's on the turn, and each final word's on the
// word (the turn's when the diarizer had nobody active in the word).
func aaiTurnMessage(t *livetranscribe.Turn, final, formatted, labels bool) aaiTurn {
	m := aaiTurn{Type: "Turn", TurnOrder: t.Order, TurnIsFormatted: final && formatted, EndOfTurn: final,
		EndOfTurnConfidence: t.EndOfTurnConfidence, Words: aaiWords(t, final && formatted, labels)}
	if labels {
		m.SpeakerLabel = aaiLabel(t.Speaker)
	}
	var text []string
	for _, w := range m.Words {
		if w.WordIsFinal {
			text = append(text, w.Text)
		}
	}
	m.Transcript = strings.Join(text, " ")
	if final {
		if formatted {
			m.Transcript = strings.TrimSpace(t.Text)
		}
		m.Utterance = m.Transcript
	}
	return m
}

// aaiWords converts t's words; unformatted, words that are only
// punctuation are dropped. The result is never nil (the SDK wants a list).
func aaiWords(t *livetranscribe.Turn, formatted, labels bool) []aaiWord {
	out := make([]aaiWord, 0, len(t.Words))
	for _, w := range t.Words {
		text := w.Text
		if !formatted {
			if text = aaiUnformatted(text); text == "" {
				continue
			}
		}
		aw := aaiWord{Start: aaiMillis(w.Start), End: aaiMillis(w.End), Text: text,
			Confidence: w.Confidence, WordIsFinal: w.Final}
		if labels && w.Final {
			aw.Speaker = aaiLabel(cmp.Or(w.Speaker, t.Speaker))
		}
		out = append(out, aw)
	}
	return out
}

// aaiRevisionItemOf is the SpeakerRevision entry of a relabelled final turn.
func aaiRevisionItemOf(t *livetranscribe.Turn, formatted bool) aaiRevisionItem {
	return aaiRevisionItem{TurnOrder: t.Order, SpeakerLabel: aaiLabel(t.Speaker), Words: aaiWords(t, formatted, true)}
}
