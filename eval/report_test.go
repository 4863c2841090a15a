package eval

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
)

func TestScorePoolsAndMatchesByURI(t *testing.T) {
	refs := []*annotation.Annotation{
		{URI: "b", Turns: []annotation.Turn{turn("A", 0, 4)}},
		{URI: "a", Turns: []annotation.Turn{turn("A", 0, 2)}},
		// A second part of file a, as from a second RTTM file: merged.
		{URI: "a", Turns: []annotation.Turn{turn("B", 2, 6)}},
		{URI: "c", Turns: []annotation.Turn{turn("A", 0, 1)}},
	}
	hyps := []*annotation.Annotation{
		{URI: "a", Turns: []annotation.Turn{turn("x", 0, 2), turn("y", 2, 5)}},
		{URI: "b", Turns: []annotation.Turn{turn("x", 0, 4)}},
		{URI: "zz", Turns: []annotation.Turn{turn("x", 0, 4)}},
	}
	uems := map[string]annotation.Timeline{"b": {{Start: 0, End: 2}}}
	rep, err := Score(refs, hyps, uems, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range rep.Files {
		uris = append(uris, r.URI)
	}
	if !slices.Equal(uris, []string{"a", "b", "c"}) {
		t.Fatalf("rows %v, want a b c", uris)
	}
	want := []Components{
		{Scored: 6, Missed: 1},
		{Scored: 2},            // cropped to its UEM
		{Scored: 1, Missed: 1}, // no hypothesis
	}
	for i, w := range want {
		if !sameComponents(rep.Files[i].DER, w) {
			t.Errorf("%s: %+v, want %+v", uris[i], rep.Files[i].DER, w)
		}
	}
	if !sameComponents(rep.Pooled.DER, Components{Scored: 9, Missed: 2}) || !near(rep.Pooled.DERPercent, 200.0/9) {
		t.Errorf("pooled %+v (%v %%), want 2 s missed of 9", rep.Pooled.DER, rep.Pooled.DERPercent)
	}
	// JER over the 4 reference speakers: a/A 0, a/B 1-3/4, b/A 0, c/A 1.
	if !near(rep.Pooled.JERPercent, 100*(0.25+1)/4) {
		t.Errorf("pooled JER %v %%", rep.Pooled.JERPercent)
	}
	if !slices.Equal(rep.NoHypothesis, []string{"c"}) || !slices.Equal(rep.NoReference, []string{"zz"}) {
		t.Errorf("no hypothesis %v, no reference %v", rep.NoHypothesis, rep.NoReference)
	}
	if len(refs[1].Turns) != 1 {
		t.Error("Score modified its input while merging")
	}
	if _, err := Score(refs, hyps, nil, Options{Collar: -1}); err == nil {
		t.Error("negative collar accepted")
	}
}

func TestWriteTable(t *testing.T) {
	rep, err := Score(
		[]*annotation.Annotation{{URI: "meeting", Turns: []annotation.Turn{turn("A", 0, 10)}}},
		[]*annotation.Annotation{{URI: "meeting", Turns: []annotation.Turn{turn("x", 0, 7.5)}}},
		nil, Options{Collar: 0.25, SkipOverlap: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header, file, pooled and summary lines:\n%s", b.String())
	}
	for i, want := range [][]string{
		{"file", "scored s", "DER %", "JER %"},
		{"meeting", "9.50", "2.25", "23.68", "23.68"},
		{PooledURI, "9.50", "2.25", "23.68", "23.68"},
		{"collar 0.25 s", "overlap excluded", "1 files"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScorePathsDirectories(t *testing.T) {
	refDir, hypDir := t.TempDir(), t.TempDir()
	writeFiles(t, refDir, map[string]string{
		"one.rttm":  "SPEAKER one 1 2.0 3.0 <NA> <NA> A <NA> <NA>\n",
		"one.uem":   "one 1 0.0 10.0\n",
		"two.rttm":  "SPEAKER two 1 2.0 3.0 <NA> <NA> A <NA> <NA>\n",
		"notes.txt": "not an rttm",
	})
	writeFiles(t, hypDir, map[string]string{
		"sys.rttm": "SPEAKER one 1 0.0 5.0 <NA> <NA> x <NA> <NA>\nSPEAKER two 1 0.0 5.0 <NA> <NA> x <NA> <NA>\n",
	})
	rep, err := ScorePaths(refDir, hypDir, refDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// one has a UEM beside it, so its hypothesis before 2 s is false alarm;
	// two has none and is scored over its reference span only.
	if len(rep.Files) != 2 || rep.Files[0].DER.FalseAlarm != 2 || rep.Files[1].DER.FalseAlarm != 0 {
		t.Fatalf("got %+v", rep.Files)
	}
	// Without --uem both use the reference span.
	rep, err = ScorePaths(refDir, filepath.Join(hypDir, "sys.rttm"), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pooled.DER.FalseAlarm != 0 {
		t.Errorf("no UEM: false alarm %v, want 0", rep.Pooled.DER.FalseAlarm)
	}
}

func TestScorePathsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ref.rttm":   "SPEAKER f 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n",
		"empty.rttm": "",
		"bad.rttm":   "SPEAKER f 1 zero 1.0 <NA> <NA> A <NA> <NA>\n",
		"f.uem":      "g 1 0.0 1.0\n",
	})
	ref := filepath.Join(dir, "ref.rttm")
	for _, c := range []struct{ name, ref, hyp, uem string }{
		{"missing reference", filepath.Join(dir, "nope.rttm"), ref, ""},
		{"reference without turns", filepath.Join(dir, "empty.rttm"), ref, ""},
		{"malformed hypothesis", ref, filepath.Join(dir, "bad.rttm"), ""},
		{"directory without rttm", ref, t.TempDir(), ""},
		{"missing UEM", ref, ref, filepath.Join(dir, "nope.uem")},
		{"UEM named for the file but not covering it", ref, ref, dir},
	} {
		if _, err := ScorePaths(c.ref, c.hyp, c.uem, Options{}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
