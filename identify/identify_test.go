package identify

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/testenv"
)

func unit(xs ...float32) []float32 {
	v := make([]float32, embedding.Dim)
	copy(v, xs)
	embedding.Normalize(v)
	return v
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	v := make([]float32, embedding.Dim)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)))
	}
	embedding.Normalize(v)
	s := Encode(v)
	if len(s) > MaxEncodedLen {
		t.Fatalf("encoded voiceprint has %d chars", len(s))
	}
	got, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if math.Abs(float64(got[i]-v[i])) > 1e-6 {
			t.Fatalf("value %d: got %v want %v", i, got[i], v[i])
		}
	}
}

// forge rewrites the envelope's header fields, with a valid checksum, to
// forge a voiceprint of another model or format.
func forge(t *testing.T, name, version string, format byte) string {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(Encode(unit(1)))
	vec := raw[len(raw)-4-2-4*embedding.Dim : len(raw)-4]
	b := append([]byte{}, magic[:]...)
	b = append(b, format, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(version)))
	b = append(b, version...)
	b = append(b, vec...)
	sum := crc32IEEE(b)
	b = append(b, byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24))
	return base64.StdEncoding.EncodeToString(b)
}

func TestDecodeRefusesOtherModel(t *testing.T) {
	for _, c := range []struct{ name, version string }{
		{"wespeaker-resnet34", ModelVersion},
		{embedding.ModelName, "0000000/fbank80-cmn"},
	} {
		_, err := Decode(forge(t, c.name, c.version, formatVersion))
		if !errors.Is(err, ErrOtherModel) {
			t.Fatalf("%s %s: got %v, want ErrOtherModel", c.name, c.version, err)
		}
		if !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), embedding.ModelName) {
			t.Errorf("error does not name both models: %v", err)
		}
	}
	if _, err := Decode(forge(t, embedding.ModelName, ModelVersion, formatVersion)); err != nil {
		t.Fatalf("forged current voiceprint refused: %v", err)
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	good := Encode(unit(1, 2, 3))
	raw, _ := base64.StdEncoding.DecodeString(good)
	flipped := append([]byte{}, raw...)
	flipped[len(flipped)/2] ^= 1
	for name, s := range map[string]string{
		"empty":         "",
		"not base64":    "hello, world!",
		"random base64": base64.StdEncoding.EncodeToString([]byte("some other voiceprint format")),
		"truncated":     base64.StdEncoding.EncodeToString(raw[:len(raw)-10]),
		"altered":       base64.StdEncoding.EncodeToString(flipped),
		"future format": forge(t, embedding.ModelName, ModelVersion, formatVersion+1),
		"too long":      strings.Repeat("A", MaxEncodedLen+4),
		"zero vector":   Encode(make([]float32, embedding.Dim)),
		"short vector":  Encode(make([]float32, 3)),
	} {
		if _, err := Decode(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestConfidenceCalibration(t *testing.T) {
	if c := Confidence(calibCenter); math.Abs(c-50) > 1e-9 {
		t.Fatalf("confidence at the EER threshold = %v, want 50", c)
	}
	if Confidence(0.86) < 90 || Confidence(0.37) > 10 {
		t.Errorf("medians map to %.1f / %.1f", Confidence(0.86), Confidence(0.37))
	}
}

// scores: speakers A, B, C against labels x, y with chosen cosines.
func matchFixture() (map[string][]float32, []string, []Enrolled) {
	// x and y orthogonal; a speaker at angle θ from x has cosine cos θ with x.
	x, y := unit(1), unit(0, 1)
	at := func(cx, cy float32) []float32 {
		return unit(cx, cy, float32(math.Sqrt(math.Max(0, 1-float64(cx*cx+cy*cy)))))
	}
	speakers := map[string][]float32{
		"SPEAKER_00": at(0.90, 0.30), // clearly x
		"SPEAKER_01": at(0.70, 0.55), // x more than y, but y is free
		"SPEAKER_02": at(0.10, 0.20), // nobody
	}
	return speakers, []string{"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}, []Enrolled{{"x", x}, {"y", y}}
}

func matches(ms []api.SpeakerMatch) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		if m.Match != nil {
			out[m.Speaker] = *m.Match
		}
	}
	return out
}

func TestMatchExclusiveAndThreshold(t *testing.T) {
	sp, order, prints := matchFixture()

	got := Match(sp, order, prints, true, 0)
	if m := matches(got); m["SPEAKER_00"] != "x" || m["SPEAKER_01"] != "y" || len(m) != 2 {
		t.Errorf("exclusive, threshold 0: %v (want 00→x, 01→y, 02 unmatched: fewer labels than speakers)", m)
	}
	for _, m := range got {
		if len(m.Confidence) != 2 {
			t.Errorf("%s: confidences %v, want one per label", m.Speaker, m.Confidence)
		}
		for _, c := range m.Confidence {
			if c != math.Round(c) || c < 0 || c > 100 {
				t.Errorf("%s: confidence %v not a whole 0–100", m.Speaker, c)
			}
		}
	}
	if m := matches(Match(sp, order, prints, false, 0)); m["SPEAKER_00"] != "x" || m["SPEAKER_01"] != "x" || m["SPEAKER_02"] != "y" {
		t.Errorf("non-exclusive, threshold 0: %v (want everyone their best label)", m)
	}
	// 01's cosine with y (0.55) is below the EER point: no match at 50.
	if m := matches(Match(sp, order, prints, true, 50)); m["SPEAKER_00"] != "x" || len(m) != 1 {
		t.Errorf("exclusive, threshold 50: %v (want only 00→x)", m)
	}
	if m := matches(Match(sp, order, prints, false, 50)); m["SPEAKER_00"] != "x" || m["SPEAKER_01"] != "x" || len(m) != 2 {
		t.Errorf("non-exclusive, threshold 50: %v (want 00→x, 01→x)", m)
	}
	if m := matches(Match(sp, order, prints, false, 100)); len(m) != 0 {
		t.Errorf("threshold 100: %v", m)
	}
	// A speaker without an embedding never matches; no labels, no matches.
	delete(sp, "SPEAKER_00")
	if m := matches(Match(sp, order, prints, true, 0)); m["SPEAKER_00"] != "" || m["SPEAKER_01"] != "x" {
		t.Errorf("missing embedding: %v", m)
	}
	if m := Match(sp, order, nil, true, 0); len(m) != 3 || m[0].Match != nil || m[0].Confidence == nil {
		t.Errorf("no voiceprints: %+v", m)
	}
}

func TestMatchMergesLabels(t *testing.T) {
	sp := map[string][]float32{"SPEAKER_00": unit(1, 1), "SPEAKER_01": unit(0, 0, 1)}
	prints := []Enrolled{{"x", unit(1)}, {"x", unit(0, 1)}, {"z", unit(0, 0, 1)}}
	got := Match(sp, []string{"SPEAKER_00", "SPEAKER_01"}, prints, true, 50)
	if m := matches(got); m["SPEAKER_00"] != "x" || m["SPEAKER_01"] != "z" {
		t.Errorf("%v", m)
	}
	if c := got[0].Confidence["x"]; c < 95 {
		t.Errorf("averaged enrolment scored %v, want ≥ 95", c)
	}
}

func TestOutputRenamesMatchedSpeakers(t *testing.T) {
	res := &diarize.Result{Diarization: annotationOf(
		"SPEAKER_00", 0, 1.23456, "SPEAKER_01", 1, 2, "SPEAKER_00", 2.5, 3)}
	x := "Alice"
	got := Output(res, []api.SpeakerMatch{{Speaker: "SPEAKER_00", Match: &x}, {Speaker: "SPEAKER_01"}})
	if len(got) != 3 || got[0].Speaker != "Alice" || got[0].DiarizationSpeaker != "SPEAKER_00" || *got[0].Match != "Alice" ||
		got[0].End != 1.235 || got[1].Speaker != "SPEAKER_01" || got[1].Match != nil {
		t.Errorf("%+v", got)
	}
}

func TestVoiceprintRefusesLongAudio(t *testing.T) {
	p := pipeline(t)
	_, _, err := Voiceprint(context.Background(), p, audio.FromSamples(make([]float32, 31*audio.SampleRate)))
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("31 s: got %v, want ErrTooLong", err)
	}
}

// TestVoiceprintIdentifies: the voiceprint of an enrolment file, through its
// string form, matches the same speaker's test file above 50 and an impostor
// below.
func TestVoiceprintIdentifies(t *testing.T) {
	dev, p := testenv.DevSet(t, filepath.Join("speakers", "speaker_id_protocol.tsv")), pipeline(t)
	ctx := context.Background()
	vp := func(rel string) []float32 {
		v, warn, err := Voiceprint(ctx, p, load(t, filepath.Join(dev, "speakers", rel)))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if warn != "" {
			t.Logf("%s: %s", rel, warn)
		}
		return v
	}
	enrolled, err := Decode(Encode(vp("ls_1235/1235-135883-0000_a.wav")))
	if err != nil {
		t.Fatal(err)
	}
	target := Confidence(embedding.Cosine(enrolled, vp("ls_1235/1235-135883-0000_b.wav")))
	impostor := Confidence(embedding.Cosine(enrolled, vp("ls_2159/2159-179154-0000_b.wav")))
	t.Logf("target %.1f, impostor %.1f", target, impostor)
	if target < 50 || impostor >= 50 {
		t.Errorf("target confidence %.1f (want ≥ 50), impostor %.1f (want < 50)", target, impostor)
	}
}

// TestIdentifyConversation: two test files back to back are diarized, and
// each speaker is named after the right voiceprint.
func TestIdentifyConversation(t *testing.T) {
	dev, p := testenv.DevSet(t, filepath.Join("speakers", "speaker_id_protocol.tsv")), pipeline(t)
	ctx := context.Background()
	var prints []Enrolled
	for _, e := range []struct{ label, file string }{
		{"ls_1235", "ls_1235/1235-135883-0000_a.wav"},
		{"ls_7059", "ls_7059/7059-77897-0000_a.wav"},
	} {
		v, _, err := Voiceprint(ctx, p, load(t, filepath.Join(dev, "speakers", e.file)))
		if err != nil {
			t.Fatal(err)
		}
		prints = append(prints, Enrolled{e.label, v})
	}
	a := load(t, filepath.Join(dev, "speakers", "ls_7059/7059-77897-0000_b.wav"))
	b := load(t, filepath.Join(dev, "speakers", "ls_1235/1235-135883-0000_b.wav"))
	sa, _ := a.Samples(0, a.Len())
	sb, _ := b.Samples(0, b.Len())
	conv := audio.FromSamples(append(append(sa, make([]float32, audio.SampleRate/2)...), sb...))
	cut := float64(len(sa))/audio.SampleRate + 0.25

	res, err := p.Diarize(ctx, conv, diarize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := SpeakerEmbeddings(ctx, p, conv, res)
	if err != nil {
		t.Fatal(err)
	}
	ms := Match(sp, res.Speakers, prints, true, 50)
	t.Logf("%+v", ms)
	var right, total float64
	for _, turn := range Output(res, ms) {
		want := "ls_1235"
		if (turn.Start+turn.End)/2 < cut {
			want = "ls_7059"
		}
		if turn.Speaker == want {
			right += turn.End - turn.Start
		}
		total += turn.End - turn.Start
	}
	if right < 0.9*total {
		t.Errorf("only %.1f of %.1f s of turns named right", right, total)
	}
}
