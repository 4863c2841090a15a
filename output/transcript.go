package output

import (
	"bufio"
	"fmt"
	"io"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
)

// TranscriptJSON is the pyannoteAI output of a diarize job with
// transcription: the diarization plus wordLevelTranscription and
// turnLevelTranscription (empty arrays, not absent, without speech).
func TranscriptJSON(res *diarize.Result, tr api.Transcription, opt JSONOptions) api.DiarizeOutput {
	out := JSON(res, opt)
	out.WordLevelTranscription, out.TurnLevelTranscription = nonNil(tr.WordLevel), nonNil(tr.TurnLevel)
	return out
}

func nonNil(v []api.WordItem) []api.WordItem {
	if v == nil {
		return []api.WordItem{}
	}
	return v
}

// CuesFromTranscript makes one subtitle cue per transcript turn.
func CuesFromTranscript(turns []api.WordItem) []Cue {
	cues := make([]Cue, 0, len(turns))
	for _, t := range turns {
		cues = append(cues, Cue{Start: t.Start, End: t.End, Speaker: t.Speaker, Text: t.Text})
	}
	return cues
}

// WriteTranscriptText writes one line per turn: "[HH:MM:SS.mmm] SPEAKER: text".
func WriteTranscriptText(w io.Writer, turns []api.WordItem) error {
	bw := bufio.NewWriter(w)
	for _, t := range turns {
		fmt.Fprintf(bw, "[%s] %s: %s\n", timestamp(t.Start, '.'), t.Speaker, oneLine(t.Text))
	}
	return bw.Flush()
}
