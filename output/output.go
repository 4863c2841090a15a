// Package output renders a diarization result for people and programs: the
// pyannoteAI JSON shape, RTTM, SRT and WebVTT subtitles, and a timeline
// picture (SVG or PNG).
package output

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/whospoke/whospoke/annotation"
)

// Format names the output format a file name asks for by its extension
// ("json", "rttm", "srt", "vtt", "svg" or "png"), or "" when it names none, so
// the CLI can pick a writer from `--out x.srt` or `--plot x.png`.
func Format(name string) string {
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json", ".rttm", ".srt", ".vtt", ".svg", ".png":
		return ext[1:]
	case ".webvtt":
		return "vtt"
	}
	return ""
}

// WriteRTTM writes the annotation as RTTM; it is annotation.WriteRTTM, here so
// every output format is reached from this package.
func WriteRTTM(w io.Writer, a *annotation.Annotation) error {
	return annotation.WriteRTTM(w, a)
}
