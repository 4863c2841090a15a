package output

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/whospoke/whospoke/annotation"
)

// Cue is one subtitle: a speaker's stretch of time and what they said there.
// Text is empty for pure diarization; transcription fills it in.
type Cue struct {
	Start, End float64
	Speaker    string
	Text       string
}

// CuesFromAnnotation makes one text-less cue per non-empty turn, in time order.
// Overlapping turns become overlapping cues, which players show together.
func CuesFromAnnotation(a *annotation.Annotation) []Cue {
	sorted := annotation.Annotation{Turns: append([]annotation.Turn(nil), a.Turns...)}
	sorted.Sort()
	var cues []Cue
	for _, t := range sorted.Turns {
		if !t.Empty() {
			cues = append(cues, Cue{Start: t.Start, End: t.End, Speaker: t.Speaker})
		}
	}
	return cues
}

// WriteSRT writes the cues as SubRip, numbered from 1, each text prefixed by
// "[SPEAKER]" (docs/API.md §4).
func WriteSRT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	for i, c := range cues {
		text := "[" + c.Speaker + "]"
		if t := oneLine(c.Text); t != "" {
			text += " " + t
		}
		fmt.Fprintf(bw, "%d\n%s --> %s\n%s\n\n", i+1, timestamp(c.Start, ','), timestamp(c.End, ','), text)
	}
	return bw.Flush()
}

// WriteVTT writes the cues as WebVTT with voice spans "<v SPEAKER>text". A
// cue without text repeats the speaker name as its text: players use the
// voice tag for styling but do not display it, so an empty span would show
// nothing at all.
func WriteVTT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT\n")
	for _, c := range cues {
		text := oneLine(c.Text)
		if text == "" {
			text = c.Speaker
		}
		fmt.Fprintf(bw, "\n%s --> %s\n<v %s>%s\n", timestamp(c.Start, '.'), timestamp(c.End, '.'),
			vttEscape(oneLine(c.Speaker)), vttEscape(text))
	}
	return bw.Flush()
}

// oneLine folds whitespace, line breaks included: a blank line would end the
// cue early in both SRT and WebVTT.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// vttEscape escapes the characters WebVTT cue text reserves (this also keeps
// "-->" out of the text).
var vttEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// timestamp formats seconds as HH:MM:SS<sep>mmm, rounded to the millisecond.
func timestamp(sec float64, sep byte) string {
	if !(sec > 0) || math.IsInf(sec, 0) { // negative, NaN or ±Inf: nothing sensible to show
		sec = 0
	}
	ms := int64(math.Round(sec * 1000))
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}
