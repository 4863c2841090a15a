package bench

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/eval"
)

func TestCountedSpeakers(t *testing.T) {
	turn := func(spk string, s, e float64) annotation.Turn {
		return annotation.Turn{Speaker: spk, Segment: annotation.Segment{Start: s, End: e}}
	}
	ref := &annotation.Annotation{Turns: []annotation.Turn{
		turn("long", 0, 1.5),
		turn("short", 2, 2.7),                        // 0.7 s: not counted
		turn("split", 3, 3.6), turn("split", 5, 5.6), // 1.2 s in two turns
		turn("overlap", 6, 6.6), turn("overlap", 6.2, 6.8), // 0.8 s covered, 1.2 s summed
		turn("edge", 9, 10),     // exactly 1 s
		turn("outside", 19, 21), // 2 s, 0.5 s of it inside the UEM below
	}}
	if got := countedSpeakers(ref, nil); got != 4 {
		t.Errorf("no UEM: %d speakers counted, want 4 (long, split, edge, outside; not short or overlap)", got)
	}
	uem := annotation.Timeline{{Start: 0, End: 12}, {Start: 11, End: 19.5}}
	if got := countedSpeakers(ref, uem); got != 3 {
		t.Errorf("UEM to 19.5 s: %d speakers counted, want 3 (long, split, edge)", got)
	}
}

func TestGroups(t *testing.T) {
	c := func(scored, missed, fa, conf float64) eval.Components {
		return eval.Components{Scored: scored, Missed: missed, FalseAlarm: fa, Confusion: conf}
	}
	files := []FileResult{
		{Condition: Clean, Part: "real", URI: "ami_debug_dev00", HypSpk: 2, RefCounted: 2, C0: c(10, 1, 0, 0)},
		{Condition: Clean, Part: "real", URI: "pyannote_sample", HypSpk: 5, RefCounted: 2, C0: c(10, 0, 1, 2)},
		{Condition: Clean, Part: "sim", URI: "sim05_6spk", HypSpk: 3, RefCounted: 6, C0: c(20, 2, 0, 0)},
		{Condition: Phone, Part: "real", URI: "ami_debug_dev00", HypSpk: 3, RefCounted: 2, C0: c(10, 5, 0, 0)},
		// The calls part pools on its own, after all, and is not in it.
		{Condition: Clean, Part: Calls, URI: "call01_ls_3080_ls_2033", HypSpk: 4, RefCounted: 2, C0: c(100, 0, 40, 40)},
	}
	gs := groups(files, []string{Clean, Phone})
	var names []string
	for _, g := range gs {
		names = append(names, g.Condition+"/"+g.Group)
	}
	if got, want := strings.Join(names, " "), "clean/real clean/real A clean/real B clean/sim clean/all clean/calls phone/real phone/real A phone/all"; got != want {
		t.Fatalf("groups %s, want %s", got, want)
	}
	real, all, calls, phone := gs[0], gs[4], gs[5], gs[6]
	if real.DER0() != 20 || all.DER0() != 15 || calls.DER0() != 80 || phone.DER0() != 50 {
		t.Errorf("pooled DER real %.2f all %.2f calls %.2f phone real %.2f, want 20, 15, 80, 50", real.DER0(), all.DER0(), calls.DER0(), phone.DER0())
	}
	if calls.Files != 1 || calls.CountFar != 1 || calls.CountExact != 0 {
		t.Errorf("calls: %d files, %d far, %d exact; want 1, 1, 0", calls.Files, calls.CountFar, calls.CountExact)
	}
	// sim05's count is off by 3 but it has 6 speakers: not a far miss on a small file.
	if all.CountExact != 1 || all.CountFar != 1 || all.CountSmall != 2 {
		t.Errorf("clean counts exact %d far %d of small %d, want 1, 1, 2", all.CountExact, all.CountFar, all.CountSmall)
	}
	if got, want := all.CountSummary(), "count exact on 1 of 3 files; off by more than one on 1 of 2 files with ≤ 4 speakers"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// TestSplitCoversDev checks the split against the dev set: every real file
// in one half, four AMI excerpts in each.
func TestSplitCoversDev(t *testing.T) {
	rttms, _ := filepath.Glob("../../shared/eval/dev/real/*.rttm")
	if len(rttms) == 0 {
		t.Skip("dev set not found")
	}
	ami := map[string]int{}
	for _, r := range rttms {
		id := strings.TrimSuffix(filepath.Base(r), ".rttm")
		h, ok := Split[id]
		if !ok {
			t.Errorf("%s is in neither half", id)
		}
		if strings.HasPrefix(id, "ami_") {
			ami[h]++
		}
	}
	if ami["A"] != 4 || ami["B"] != 4 {
		t.Errorf("AMI excerpts per half %v, want 4 and 4", ami)
	}
}
