package whisper

import (
	"strings"
	"testing"
)

// TestCompressionRatioIsZlibs checks the repetition test against Python's
// zlib.compress (the lengths below are its output's): openai's 2.4 threshold
// is set on them. Four repeats of a digit string are 2.48 there and fail
// the test; Go's compress/zlib gave 2.25 and let the window pass.
func TestCompressionRatioIsZlibs(t *testing.T) {
	for _, c := range []struct {
		text string
		zlib int
	}{
		{"5 0 6 0 4", 15},
		{strings.Repeat("1 2 3 4 5 6 7 8 9 ", 4), 29},
		{"And so my fellow Americans ask not what your country can do for you, ask what you can do for your country.", 79},
		{strings.Repeat(" 711 711", 30), 15},
	} {
		want := float64(len(c.text)) / float64(c.zlib)
		if got := compressionRatio(c.text); got != want {
			t.Errorf("%.20q: ratio %.4f, want %.4f (%d zlib bytes)", c.text, got, want, c.zlib)
		}
	}
	if r := compressionRatio(strings.Repeat("1 2 3 4 5 6 7 8 9 ", 4)); r <= 2.4 {
		t.Errorf("four repeats: ratio %.3f passes openai's 2.4", r)
	}
	if r := compressionRatio(""); r != 0 {
		t.Errorf("empty text: ratio %g", r)
	}
}
