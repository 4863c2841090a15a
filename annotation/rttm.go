package annotation

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ReadRTTM parses RTTM "SPEAKER" lines into one annotation per file id, in
// order of first appearance. Other line types and blank/comment lines are
// skipped; a malformed SPEAKER line is an error naming its line number.
func ReadRTTM(r io.Reader) ([]*Annotation, error) {
	byURI := map[string]*Annotation{}
	var order []*Annotation
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";;") {
			continue
		}
		f := strings.Fields(line)
		if f[0] != "SPEAKER" {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("rttm line %d: want at least 8 fields, got %d", n, len(f))
		}
		start, err1 := strconv.ParseFloat(f[3], 64)
		dur, err2 := strconv.ParseFloat(f[4], 64)
		// NaN, Inf and overflowing ends would poison every metric downstream.
		if err1 != nil || err2 != nil || !(dur >= 0) || !(start >= 0) || math.IsInf(start+dur, 0) {
			return nil, fmt.Errorf("rttm line %d: bad start %q or duration %q", n, f[3], f[4])
		}
		a := byURI[f[1]]
		if a == nil {
			a = &Annotation{URI: f[1]}
			byURI[f[1]] = a
			order = append(order, a)
		}
		a.Turns = append(a.Turns, Turn{Segment: Segment{Start: start, End: start + dur}, Speaker: f[7]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rttm: %w", err)
	}
	for _, a := range order {
		a.Sort()
	}
	return order, nil
}

// WriteRTTM writes the annotation's turns as RTTM SPEAKER lines with three
// decimals. An empty URI is written as "audio"; spaces in ids become '_'.
func WriteRTTM(w io.Writer, a *Annotation) error {
	uri := rttmField(a.URI, "audio")
	bw := bufio.NewWriter(w)
	for _, t := range a.Turns {
		if t.Empty() {
			continue
		}
		fmt.Fprintf(bw, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n",
			uri, t.Start, t.Duration(), rttmField(t.Speaker, "speaker"))
	}
	return bw.Flush()
}

func rttmField(s, fallback string) string {
	s = strings.Join(strings.Fields(s), "_")
	if s == "" {
		return fallback
	}
	return s
}

// ReadUEM parses UEM lines "<uri> <channel> <start> <end>" into the scored
// regions of each file id.
func ReadUEM(r io.Reader) (map[string]Timeline, error) {
	out := map[string]Timeline{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";;") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			return nil, fmt.Errorf("uem line %d: want 4 fields, got %d", n, len(f))
		}
		start, err1 := strconv.ParseFloat(f[2], 64)
		end, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil || !(end >= start) || math.IsInf(start, 0) || math.IsInf(end, 0) {
			return nil, fmt.Errorf("uem line %d: bad region %q %q", n, f[2], f[3])
		}
		out[f[0]] = append(out[f[0]], Segment{Start: start, End: end})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("uem: %w", err)
	}
	return out, nil
}

// WriteUEM writes scored regions, file ids sorted.
func WriteUEM(w io.Writer, uem map[string]Timeline) error {
	ids := make([]string, 0, len(uem))
	for id := range uem {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	for _, id := range ids {
		for _, s := range uem[id] {
			fmt.Fprintf(bw, "%s 1 %.3f %.3f\n", rttmField(id, "audio"), s.Start, s.End)
		}
	}
	return bw.Flush()
}
