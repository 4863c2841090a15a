package annotation

import (
	"bytes"
	"strings"
	"testing"
)

func TestRTTMRoundTrip(t *testing.T) {
	in := &Annotation{URI: "meeting one", Turns: []Turn{
		{Segment{1.25, 3.5}, "SPEAKER_01"},
		{Segment{0, 2}, "SPEAKER_00"},
		{Segment{3, 7.125}, "SPEAKER_00"},
	}}
	in.Sort()
	var buf bytes.Buffer
	if err := WriteRTTM(&buf, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRTTM(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].URI != "meeting_one" {
		t.Fatalf("want one annotation meeting_one, got %+v", got)
	}
	if len(got[0].Turns) != len(in.Turns) {
		t.Fatalf("turns: got %d want %d", len(got[0].Turns), len(in.Turns))
	}
	for i, tr := range got[0].Turns {
		w := in.Turns[i]
		if tr.Speaker != w.Speaker || abs(tr.Start-w.Start) > 1e-3 || abs(tr.End-w.End) > 1e-3 {
			t.Errorf("turn %d: got %+v want %+v", i, tr, w)
		}
	}
}

func TestReadRTTMErrors(t *testing.T) {
	for _, bad := range []string{
		"SPEAKER f 1 x 1 <NA> <NA> A <NA> <NA>",
		"SPEAKER f 1 1 -2 <NA> <NA> A <NA> <NA>",
		"SPEAKER f 1 1",
	} {
		if _, err := ReadRTTM(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestRelabelAndTimeline(t *testing.T) {
	a := &Annotation{Turns: []Turn{
		{Segment{5, 6}, "bob"}, {Segment{0, 2}, "alice"}, {Segment{1, 3}, "bob"},
	}}
	m := a.Relabel()
	if m["alice"] != "SPEAKER_00" || m["bob"] != "SPEAKER_01" {
		t.Fatalf("mapping %v", m)
	}
	if d := a.Speech(); abs(d-4) > 1e-9 {
		t.Fatalf("speech %v want 4", d)
	}
	c := a.Crop(Timeline{{1.5, 5.5}})
	if d := c.Speech(); abs(d-2) > 1e-9 {
		t.Fatalf("cropped speech %v want 2", d)
	}
}

func TestUEMRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	WriteUEM(&buf, map[string]Timeline{"b": {{0, 30}}, "a": {{1, 2}, {3, 4}}})
	u, err := ReadUEM(&buf)
	if err != nil || len(u["a"]) != 2 || u["b"][0].End != 30 {
		t.Fatalf("got %v %v", u, err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTimelineMinus(t *testing.T) {
	a := Timeline{{Start: 0, End: 10}, {Start: 20, End: 30}}
	b := Timeline{{Start: -1, End: 1}, {Start: 4, End: 5}, {Start: 9, End: 21}, {Start: 29, End: 29.5}}
	want := Timeline{{Start: 1, End: 4}, {Start: 5, End: 9}, {Start: 21, End: 29}, {Start: 29.5, End: 30}}
	got := a.Minus(b)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
