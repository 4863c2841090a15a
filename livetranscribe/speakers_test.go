package livetranscribe

import (
	"math"
	"slices"
	"testing"

	"github.com/whospoke/whospoke/live"
)

// A speaker with less speech in the whole session than a turn needs for a
// label is dropped at the close revision: a word in its time takes the
// nearest other speaker; speakers with enough speech stay.
func TestDropBriefSpeaker(t *testing.T) {
	events := []live.Event{
		{Type: live.Start, Speaker: "SPEAKER_00", Time: 0}, {Type: live.End, Speaker: "SPEAKER_00", Time: 4.8},
		{Type: live.Start, Speaker: "SPEAKER_02", Time: 5.0}, {Type: live.End, Speaker: "SPEAKER_02", Time: 5.9},
		{Type: live.Start, Speaker: "SPEAKER_01", Time: 7.0}, {Type: live.End, Speaker: "SPEAKER_01", Time: 8.0},
	}
	tl := newTimeline()
	tl.add(events, math.Inf(1))
	if spk, _ := tl.speakerOf(5.2, 5.6); spk != "SPEAKER_02" {
		t.Fatalf("before: word in the brief speaker's time is %q, want SPEAKER_02", spk)
	}
	tl.dropBrief(minLabelledSeconds)
	if _, ok := tl.spans["SPEAKER_02"]; ok {
		t.Errorf("SPEAKER_02 (0.9 s) kept")
	}
	if spk, _ := tl.speakerOf(5.2, 5.6); spk != "SPEAKER_00" {
		t.Errorf("word at 5.2-5.6 s: %q, want the nearest speech's SPEAKER_00", spk)
	}
	if spk, _ := tl.speakerOf(7.2, 7.5); spk != "SPEAKER_01" {
		t.Errorf("SPEAKER_01 (1 s) lost: word at 7.2-7.5 s is %q", spk)
	}

	// When nobody has a second of speech, nobody is dropped.
	short := newTimeline()
	short.add(events[2:4], math.Inf(1))
	short.dropBrief(minLabelledSeconds)
	if spk, _ := short.speakerOf(5.2, 5.6); spk != "SPEAKER_02" {
		t.Errorf("only speaker dropped: %q", spk)
	}
}

// TestFillUnheard: a word the diarizer heard nobody near takes the speaker
// of the nearest labelled word of its turn, the earlier one on a tie; a
// turn nobody was heard in stays unlabelled.
func TestFillUnheard(t *testing.T) {
	ws := []Word{{Text: "a"}, {Text: "b", Speaker: "S1"}, {Text: "c"}, {Text: "d"}, {Text: "e", Speaker: "S2"}}
	fillUnheard(ws)
	got := []string{ws[0].Speaker, ws[1].Speaker, ws[2].Speaker, ws[3].Speaker, ws[4].Speaker}
	if want := []string{"S1", "S1", "S1", "S2", "S2"}; !slices.Equal(got, want) {
		t.Errorf("speakers %v, want %v", got, want)
	}
	none := []Word{{Text: "a"}, {Text: "b"}}
	fillUnheard(none)
	if none[0].Speaker != "" || none[1].Speaker != "" {
		t.Errorf("unheard turn labelled: %+v", none)
	}
}
