package annotation

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// FuzzReadRTTM: any input parses or fails with an error; what parses has
// finite, non-negative, ordered turns and survives a write/read round trip.
func FuzzReadRTTM(f *testing.F) {
	f.Add("SPEAKER a 1 0.5 1.25 <NA> <NA> spk1 <NA> <NA>\nSPEAKER a 1 2 1 <NA> <NA> spk2 <NA> <NA>\n")
	f.Add("# comment\n;; x\nLEXEME a 1 0 1\nSPEAKER b 1 NaN 1 <NA> <NA> s <NA> <NA>\n")
	f.Add("SPEAKER a 1 1e308 1e308 <NA> <NA> s\nSPEAKER a 1 Inf 1 <NA> <NA> s\n")
	f.Add("SPEAKER a 1 0 -1 x x s\n\n\t\n")
	f.Fuzz(func(t *testing.T, in string) {
		anns, err := ReadRTTM(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, a := range anns {
			for _, tr := range a.Turns {
				if !finite(tr.Start) || !finite(tr.End) || tr.Start < 0 || tr.End < tr.Start {
					t.Fatalf("turn %+v from %q", tr, in)
				}
			}
			var buf bytes.Buffer
			if err := WriteRTTM(&buf, a); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadRTTM(&buf); err != nil {
				t.Fatalf("written RTTM does not read back: %v\n%s", err, buf.String())
			}
		}
	})
}

// FuzzReadUEM: any input parses or fails; regions are finite and ordered.
func FuzzReadUEM(f *testing.F) {
	f.Add("a 1 0.000 30.000\nb 1 5 10\n")
	f.Add("a 1 NaN NaN\na 1 0 Inf\n# x\n")
	f.Add("a 1 3 2\nshort line\n")
	f.Fuzz(func(t *testing.T, in string) {
		uem, err := ReadUEM(strings.NewReader(in))
		if err != nil {
			return
		}
		for uri, tl := range uem {
			for _, s := range tl {
				if !finite(s.Start) || !finite(s.End) || s.End < s.Start {
					t.Fatalf("%s region %+v from %q", uri, s, in)
				}
			}
		}
	})
}
