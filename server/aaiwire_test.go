package server

import (
	"net/url"
	"testing"
	"time"
)

func TestAAILabel(t *testing.T) {
	for in, want := range map[string]string{"SPEAKER_00": "A", "SPEAKER_01": "B", "SPEAKER_25": "Z",
		"SPEAKER_26": "AA", "": "UNKNOWN", "Alice": "UNKNOWN"} {
		if got := aaiLabel(in); got != want {
			t.Errorf("aaiLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAAIUnformatted(t *testing.T) {
	for in, want := range map[string]string{"Hello,": "hello", "Don’t": "don't", "42.": "42", "--": "", "Élan!": "élan"} {
		if got := aaiUnformatted(in); got != want {
			t.Errorf("aaiUnformatted(%q) = %q, want %q", in, got, want)
		}
	}
}

// A partial's transcript holds only its final words; punctuation-only
// words vanish unformatted; speakers only on final words; a turn with
// under a second of speech (no speaker) is UNKNOWN, and so are its words
// without a speaker of their own; words are a list, never null.
func TestAAITurnMessage(t *testing.T) {
	tr := fakeTurn()
	tr.Words[1].Final = false
	p := aaiTurnMessage(tr, false, true, true)
	if p.Transcript != "hello" || p.TurnIsFormatted || p.EndOfTurn || p.Utterance != "" || p.SpeakerLabel != "B" ||
		p.Words[0].Speaker != "B" || p.Words[1].Speaker != "" || p.Words[0].Start != 500 {
		t.Fatalf("partial %+v", p)
	}
	tr = fakeTurn()
	tr.Speaker, tr.Words[1].Speaker = "", ""
	tr.Words = append(tr.Words, tr.Words[1])
	tr.Words[2].Text = "—"
	f := aaiTurnMessage(tr, true, false, true)
	if f.Transcript != "hello world" || f.Utterance != f.Transcript || len(f.Words) != 2 || f.SpeakerLabel != "UNKNOWN" ||
		f.Words[0].Speaker != "B" || f.Words[1].Speaker != "UNKNOWN" {
		t.Fatalf("final %+v", f)
	}
	tr.Words = nil
	if e := aaiTurnMessage(tr, true, true, false); e.Words == nil || e.SpeakerLabel != "" {
		t.Fatalf("empty %+v", e)
	}
}

func TestParseAAIParams(t *testing.T) {
	q, _ := url.ParseQuery("sample_rate=8000&speaker_labels=True&format_turns=False&max_turn_silence=2000" +
		"&min_end_of_turn_silence_when_confident=100&speaker_labels_revision_interval_ms=2500&speech_model=u3-rt-pro" +
		"&vad_threshold=0.3&webhook_url=x&language_codes=%5B%22en%22%5D")
	p, err := parseAAIParams(q)
	if err != nil {
		t.Fatal(err)
	}
	if p.sampleRate != 8000 || !p.labels || p.formatTurns || !p.u3 || p.turns.MaxSilence != 2*time.Second ||
		p.turns.MinSilence != 100*time.Millisecond || p.revisionEvery != 2500*time.Millisecond || p.turns.VADThreshold != 0.3 {
		t.Fatalf("%+v", p)
	}
	if err := p.aaiUpdate([]byte(`{"type":"UpdateConfiguration","min_turn_silence":50,"format_turns":true,"prompt":null}`)); err != nil ||
		p.turns.MinSilence != 50*time.Millisecond || !p.formatTurns {
		t.Fatalf("update: %v %+v", err, p)
	}
	if err := p.aaiUpdate([]byte(`{"end_of_turn_confidence_threshold":2}`)); err == nil {
		t.Fatal("threshold 2 accepted")
	}
}
