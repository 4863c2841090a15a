package server

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/whospoke/whospoke/livetranscribe"
)

func word(text, speaker string, start float64) livetranscribe.Word {
	return livetranscribe.Word{Text: text, Speaker: speaker, Start: start, End: start + 0.3, Final: true}
}

// Segments cut an item's words where the speaker changes; words nobody was
// heard in stay with their neighbours.
func TestSegments(t *testing.T) {
	turn := &livetranscribe.Turn{Speaker: "SPEAKER_01", Words: []livetranscribe.Word{
		word("So,", "", 0), word("one", "SPEAKER_00", 0.5), word("two", "", 1), word("three.", "SPEAKER_00", 1.5),
		word("Four", "SPEAKER_01", 2), word("five.", "SPEAKER_01", 2.5)}}
	want := []oaiSegment{{"SPEAKER_00", 0, 1.8, "So, one two three."}, {"SPEAKER_01", 2, 2.8, "Four five."}}
	if got := segments(turn); !reflect.DeepEqual(got, want) {
		t.Errorf("segments %+v, want %+v", got, want)
	}
	// Without any labelled word the turn's speaker is all there is.
	turn.Words = []livetranscribe.Word{word("Hi.", "", 0)}
	if got := segments(turn); len(got) != 1 || got[0].Speaker != "SPEAKER_01" || got[0].Text != "Hi." {
		t.Errorf("unlabelled: %+v", got)
	}
	if got := segments(&livetranscribe.Turn{}); got != nil {
		t.Errorf("empty turn: %+v", got)
	}
}

// PCM16 split at odd byte counts decodes like the whole; G.711 is 8 kHz.
func TestOAIDecoder(t *testing.T) {
	pcm := make([]byte, 2*2400) // 100 ms at 24 kHz
	for i := range 2400 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(i*13-15000)))
	}
	whole, sec := newOAIDecoder(oaiPCM).decode(pcm)
	whole = append([]float32(nil), whole...)
	if sec != 0.1 {
		t.Errorf("%v s", sec)
	}
	d := newOAIDecoder(oaiPCM)
	var split []float32
	for off := 0; off < len(pcm); off += 333 {
		out, _ := d.decode(pcm[off:min(off+333, len(pcm))])
		split = append(split, out...)
	}
	if !reflect.DeepEqual(whole, split) || len(whole) < 1550 {
		t.Errorf("split decode differs: %d vs %d samples", len(split), len(whole))
	}
	for _, f := range []string{oaiPCMU, oaiPCMA} {
		if out, sec := newOAIDecoder(f).decode(make([]byte, 800)); sec != 0.1 || len(out) < 1550 || len(out) > 1600 {
			t.Errorf("%s: %d samples, %v s", f, len(out), sec)
		}
	}
}

// turn_detection null is the client's commits; server_vad's silence is
// the end of a turn, exactly.
func TestOAITurnDetection(t *testing.T) {
	cfg := oaiDefaultSession("s", time.Now())
	if td := cfg.turnDetection(); td.Mode != livetranscribe.TurnsBySilence || td.MinSilence != 500*time.Millisecond || td.MaxSilence != td.MinSilence {
		t.Errorf("default %+v", td)
	}
	var u oaiSessionUpdate
	if err := json.Unmarshal([]byte(`{"audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":800,"threshold":0.7}}}}`), &u); err != nil {
		t.Fatal(err)
	}
	cfg, oerr := u.apply(cfg)
	if td := cfg.turnDetection(); oerr != nil || td.MinSilence != 800*time.Millisecond || td.VADThreshold != 0.7 {
		t.Errorf("server_vad: %+v %v", td, oerr)
	}
	u = oaiSessionUpdate{}
	if err := json.Unmarshal([]byte(`{"audio":{"input":{"turn_detection":null}}}`), &u); err != nil {
		t.Fatal(err)
	}
	if cfg, oerr = u.apply(cfg); oerr != nil || cfg.turnDetection().Mode != livetranscribe.TurnsByClient {
		t.Errorf("null: %+v %v", cfg.Audio.Input.TurnDetection, oerr)
	}
	// An update without turn_detection keeps it.
	u = oaiSessionUpdate{}
	if err := json.Unmarshal([]byte(`{"audio":{"input":{"format":{"type":"audio/pcma"}}}}`), &u); err != nil {
		t.Fatal(err)
	}
	if cfg, oerr = u.apply(cfg); oerr != nil || cfg.turnDetection().Mode != livetranscribe.TurnsByClient || cfg.Audio.Input.Format.Type != oaiPCMA {
		t.Errorf("format only: %+v %v", cfg.Audio.Input, oerr)
	}
}

// A transcript event's data: the turn, its words and whether it is final.
func TestTranscriptOf(t *testing.T) {
	turn := &livetranscribe.Turn{Speaker: "SPEAKER_00", Start: 1.23456, End: 2.5, Text: " Hello there.",
		Words: []livetranscribe.Word{word("Hello", "SPEAKER_00", 1.23456), word("there.", "", 1.9)}}
	b, err := json.Marshal(transcriptOf(turn, true))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"speaker":"SPEAKER_00","start":1.235,"end":2.5,"text":"Hello there.","words":[{"start":1.235,"end":1.535,"text":"Hello","speaker":"SPEAKER_00"},{"start":1.9,"end":2.2,"text":"there.","speaker":""}],"final":true}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
