package eval

import "testing"

func TestScoreAttribution(t *testing.T) {
	w := func(s, e float64, text, spk string) TimedWord {
		return TimedWord{Start: s, End: e, Text: text, Speaker: spk}
	}
	ref := []TimedWord{
		w(0, 1, "one", "A"), w(1, 2, "two", "A"), w(2, 3, "one", "A"),
		w(4, 5, "three", "B"), w(5, 6, "four", "B"), w(6, 7, "five", "B"),
		w(8, 9, "nine", "B"),
	}
	hyp := []TimedWord{
		w(0.1, 0.9, "One,", "X"),
		w(1.1, 2.4, "2", "X"),
		w(2.5, 3.2, "one", "Y"), // right text, wrong speaker
		w(4.2, 5.8, "34", "Y"),  // "three four" share the numeral's span
		w(6.0, 6.9, "six", "Y"), // wrong text: unmatched
		w(9.5, 10, "nine", "Y"), // right text, no time overlap: unmatched
		w(2.9, 3.0, "one", "Y"), // a second "one": the first overlaps more
	}
	a := ScoreAttribution(ref, hyp)
	if len(a.Ref) != 7 || len(a.Hyp) != 8 {
		t.Fatalf("normalised %d/%d words", len(a.Ref), len(a.Hyp))
	}
	want := []int{0, 1, 2, 3, 4, -1, -1}
	for i, j := range want {
		if a.Match[i] != j {
			t.Errorf("ref word %d matched %d, want %d", i, a.Match[i], j)
		}
	}
	// X↔A (2 words agree), Y↔B (2 agree); "one" at 2-3 is wrong.
	if a.Matched != 5 || a.Right != 4 || a.Mapping["X"] != "A" || a.Mapping["Y"] != "B" {
		t.Errorf("matched %d right %d mapping %v", a.Matched, a.Right, a.Mapping)
	}
	if a.Accuracy() != 0.8 || a.MatchedShare() != 5.0/7 || a.RightAt(2) || !a.RightAt(3) || a.RightAt(5) {
		t.Errorf("accuracy %v share %v", a.Accuracy(), a.MatchedShare())
	}
	if e := ScoreAttribution(ref, nil); e.Matched != 0 || e.Accuracy() != 0 {
		t.Errorf("empty transcript: %+v", e)
	}
}
