package output

import (
	"bufio"
	"fmt"
	"io"

	"github.com/whospoke/whospoke/annotation"
)

// WriteTurnsText writes one line per turn for people reading a terminal:
// "[HH:MM:SS.mmm - HH:MM:SS.mmm] SPEAKER_00 (1.2 s)", in time order.
func WriteTurnsText(w io.Writer, a *annotation.Annotation) error {
	turns := &annotation.Annotation{URI: a.URI, Turns: append([]annotation.Turn(nil), a.Turns...)}
	turns.Sort()
	bw := bufio.NewWriter(w)
	for _, t := range turns.Turns {
		if t.Duration() <= 0 { // nothing to read, as in the subtitles
			continue
		}
		fmt.Fprintf(bw, "[%s - %s] %s (%.1f s)\n", timestamp(t.Start, '.'), timestamp(t.End, '.'),
			oneLine(t.Speaker), t.Duration())
	}
	return bw.Flush()
}
