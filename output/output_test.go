package output

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
)

func turn(start, end float64, spk string) annotation.Turn {
	return annotation.Turn{Segment: annotation.Segment{Start: start, End: end}, Speaker: spk}
}

func sampleResult() *diarize.Result {
	return &diarize.Result{
		Duration: 10,
		Diarization: &annotation.Annotation{Turns: []annotation.Turn{
			turn(0.12345, 2.0004, "SPEAKER_00"), turn(1.5, 4.2506, "SPEAKER_01"),
		}},
		Exclusive: &annotation.Annotation{Turns: []annotation.Turn{
			turn(0.12345, 1.5, "SPEAKER_00"), turn(1.5, 4.2506, "SPEAKER_01"),
		}},
		Confidence: []float64{90, 80.5},
		TurnConfidence: []map[string]float64{
			{"SPEAKER_00": 91, "SPEAKER_01": 9}, {"SPEAKER_00": 20, "SPEAKER_01": 80},
		},
		Speakers: []string{"SPEAKER_00", "SPEAKER_01"},
	}
}

// decode marshals v and reads it back generically, as a client would.
func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJSONOptionalParts(t *testing.T) {
	plain := decode(t, JSON(sampleResult(), JSONOptions{}))
	if len(plain) != 1 || plain["diarization"] == nil {
		t.Fatalf("no options: want only diarization, got %v", plain)
	}
	first := plain["diarization"].([]any)[0].(map[string]any)
	if _, ok := first["confidence"]; ok {
		t.Errorf("turn confidence present without TurnLevelConfidence: %v", first)
	}
	want := map[string]any{"speaker": "SPEAKER_00", "start": 0.123, "end": 2.0}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first turn %v, want %v (3-decimal rounding)", first, want)
	}

	all := decode(t, JSON(sampleResult(), JSONOptions{Exclusive: true, Confidence: true, TurnLevelConfidence: true}))
	for _, k := range []string{"diarization", "exclusiveDiarization", "confidence"} {
		if all[k] == nil {
			t.Errorf("all options: %q missing in %v", k, all)
		}
	}
	conf := all["confidence"].(map[string]any)
	if conf["resolution"] != diarize.ConfidenceResolution || !reflect.DeepEqual(conf["score"], []any{90.0, 80.5}) {
		t.Errorf("confidence %v", conf)
	}
	second := all["diarization"].([]any)[1].(map[string]any)
	if !reflect.DeepEqual(second["confidence"], map[string]any{"SPEAKER_00": 20.0, "SPEAKER_01": 80.0}) || second["end"] != 4.251 {
		t.Errorf("second turn %v", second)
	}
	excl := all["exclusiveDiarization"].([]any)
	if len(excl) != 2 || excl[0].(map[string]any)["end"] != 1.5 {
		t.Errorf("exclusive %v", excl)
	}
}

func TestJSONNoSpeech(t *testing.T) {
	b, err := json.Marshal(JSON(&diarize.Result{}, JSONOptions{Confidence: true}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"diarization":[],"confidence":{"score":[],"resolution":0.02}}`; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

// A transcription without words still has both arrays, empty.
func TestTranscriptJSONNoSpeech(t *testing.T) {
	b, err := json.Marshal(TranscriptJSON(&diarize.Result{}, api.Transcription{}, JSONOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"diarization":[],"wordLevelTranscription":[],"turnLevelTranscription":[]}`; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

var subtitleAnn = &annotation.Annotation{Turns: []annotation.Turn{
	turn(3661.5, 3662.25, "SPEAKER_00"),
	turn(0, 2.5, "SPEAKER_00"),
	turn(5, 5, "SPEAKER_02"), // empty: no cue
	turn(1.2345, 4, "SPEAKER_01"),
}}

func TestCuesFromAnnotation(t *testing.T) {
	got := CuesFromAnnotation(subtitleAnn)
	want := []Cue{
		{Start: 0, End: 2.5, Speaker: "SPEAKER_00"},
		{Start: 1.2345, End: 4, Speaker: "SPEAKER_01"},
		{Start: 3661.5, End: 3662.25, Speaker: "SPEAKER_00"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v want %+v", got, want)
	}
	if subtitleAnn.Turns[0].Start != 3661.5 {
		t.Error("CuesFromAnnotation reordered its input")
	}
}

func TestWriteSRT(t *testing.T) {
	cues := CuesFromAnnotation(subtitleAnn)
	cues[1].Text = "hello\n\nthere  you"
	var b strings.Builder
	if err := WriteSRT(&b, cues); err != nil {
		t.Fatal(err)
	}
	want := `1
00:00:00,000 --> 00:00:02,500
[SPEAKER_00]

2
00:00:01,235 --> 00:00:04,000
[SPEAKER_01] hello there you

3
01:01:01,500 --> 01:01:02,250
[SPEAKER_00]

`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteVTT(t *testing.T) {
	cues := CuesFromAnnotation(subtitleAnn)
	cues[1].Text = "a <b> & c --> d"
	var b strings.Builder
	if err := WriteVTT(&b, cues); err != nil {
		t.Fatal(err)
	}
	want := `WEBVTT

00:00:00.000 --> 00:00:02.500
<v SPEAKER_00>SPEAKER_00

00:00:01.235 --> 00:00:04.000
<v SPEAKER_01>a &lt;b&gt; &amp; c --&gt; d

01:01:01.500 --> 01:01:02.250
<v SPEAKER_00>SPEAKER_00
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTimestampBadInput(t *testing.T) {
	for _, sec := range []float64{-1, math.NaN(), math.Inf(1)} {
		if got := timestamp(sec, ','); got != "00:00:00,000" {
			t.Errorf("timestamp(%v) = %s", sec, got)
		}
	}
}

func TestWriteRTTM(t *testing.T) {
	var b strings.Builder
	a := &annotation.Annotation{URI: "x", Turns: []annotation.Turn{turn(1, 2.5, "SPEAKER_00")}}
	if err := WriteRTTM(&b, a); err != nil {
		t.Fatal(err)
	}
	if want := "SPEAKER x 1 1.000 1.500 <NA> <NA> SPEAKER_00 <NA> <NA>\n"; b.String() != want {
		t.Errorf("got %q want %q", b.String(), want)
	}
}

func TestFormat(t *testing.T) {
	for name, want := range map[string]string{
		"out.json": "json", "a/b.RTTM": "rttm", "x.srt": "srt", "x.vtt": "vtt", "x.webvtt": "vtt",
		"plot.svg": "svg", "plot.PNG": "png", "x.txt": "", "noext": "",
	} {
		if got := Format(name); got != want {
			t.Errorf("Format(%q) = %q want %q", name, got, want)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, d := range []float64{0.5, 1, 7, 30, 59, 60, 95, 600, 3599, 3600, 5400, 86400, 1e6} {
		tl, err := layout(&annotation.Annotation{}, d)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tl.ticks); n < 5 || n > 11 {
			t.Errorf("duration %v: %d ticks (step %v)", d, n, tl.tickStep)
		}
	}
	for _, c := range []struct {
		duration, sec float64
		want          string
	}{{0.8, 0.4, "0.4s"}, {30, 25, "25s"}, {95, 90, "1:30"}, {5400, 1800, "0:30:00"}} {
		tl, _ := layout(&annotation.Annotation{}, c.duration)
		if got := tl.tickLabel(c.sec); got != c.want {
			t.Errorf("duration %v: label(%v) = %q want %q", c.duration, c.sec, got, c.want)
		}
	}
}

var plotAnn = &annotation.Annotation{Turns: []annotation.Turn{
	turn(1, 4, "bob"), turn(3, 6, "alice & <eve>"), turn(8, 9, "bob"),
}}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, plotAnn, 10); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	lanes := map[string]int{} // speaker → bars
	var order []string
	var lane string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "g" && attr(el, "class") == "lane" {
				lane = attr(el, "data-speaker")
				order = append(order, lane)
			}
			if el.Name.Local == "rect" && lane != "" {
				lanes[lane]++
			}
		case xml.EndElement:
			if el.Name.Local == "g" {
				lane = ""
			}
		}
	}
	if !reflect.DeepEqual(order, []string{"bob", "alice & <eve>"}) {
		t.Errorf("lanes %q, want bob then alice", order)
	}
	if lanes["bob"] != 2 || lanes["alice & <eve>"] != 1 {
		t.Errorf("bars per lane %v", lanes)
	}
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestWritePNG(t *testing.T) {
	var b bytes.Buffer
	if err := WritePNG(&b, plotAnn, 10); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := layout(plotAnn, 10)
	if got, want := img.Bounds().Size(), (struct{ X, Y int }{plotWidth, marginTop + 2*laneHeight + axisHeight}); got.X != want.X || got.Y != want.Y {
		t.Fatalf("size %v want %v", got, want)
	}
	for i, spk := range tl.speakers {
		y := tl.barTop(i) + barHeight/2
		inTurn := func(x int) bool {
			for _, tr := range plotAnn.Turns {
				if tr.Speaker == spk && float64(x) >= tl.x(tr.Start)-2 && float64(x) <= tl.x(tr.End)+2 {
					return true
				}
			}
			return false
		}
		for _, tr := range plotAnn.Turns {
			if tr.Speaker != spk {
				continue
			}
			for x := int(tl.x(tr.Start)) + 2; x < int(tl.x(tr.End))-2; x++ {
				if img.At(x, y) != tl.color(spk) {
					t.Fatalf("%s: pixel (%d,%d) = %v inside turn %v, want %v", spk, x, y, img.At(x, y), tr.Segment, tl.color(spk))
				}
			}
		}
		for x := tl.left; x < tl.right; x++ {
			if inTurn(x) {
				continue
			}
			if c := img.At(x, y); c != background && c != gridColor {
				t.Fatalf("%s: pixel (%d,%d) = %v outside its turns", spk, x, y, c)
			}
		}
		ink := 0
		for x := marginSide; x < tl.left-marginSide; x++ {
			for yy := tl.laneTop(i); yy < tl.laneTop(i)+laneHeight; yy++ {
				if img.At(x, yy) == inkColor {
					ink++
				}
			}
		}
		if ink == 0 {
			t.Errorf("%s: no label pixels", spk)
		}
	}
}

func TestPlotBadInput(t *testing.T) {
	bad := &annotation.Annotation{Turns: []annotation.Turn{turn(0, math.Inf(1), "a")}}
	for _, c := range []struct {
		a *annotation.Annotation
		d float64
	}{{plotAnn, math.NaN()}, {plotAnn, -1}, {bad, 10}} {
		if err := WritePNG(io.Discard, c.a, c.d); err == nil {
			t.Errorf("WritePNG(%v): want error", c.d)
		}
		if err := WriteSVG(io.Discard, c.a, c.d); err == nil {
			t.Errorf("WriteSVG(%v): want error", c.d)
		}
	}
}

// A turn ending far out must not make the axis try millions of ticks.
func TestPlotHugeDuration(t *testing.T) {
	a := &annotation.Annotation{Turns: []annotation.Turn{turn(0, 1e12, "a")}}
	tl, err := layout(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tl.ticks); n < 2 || n > 11 {
		t.Errorf("%d ticks", n)
	}
	if err := WritePNG(io.Discard, a, 0); err != nil {
		t.Fatal(err)
	}
}

func TestWriteTurnsText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTurnsText(&b, subtitleAnn); err != nil {
		t.Fatal(err)
	}
	want := "[00:00:00.000 - 00:00:02.500] SPEAKER_00 (2.5 s)\n" +
		"[00:00:01.235 - 00:00:04.000] SPEAKER_01 (2.8 s)\n" +
		"[01:01:01.500 - 01:01:02.250] SPEAKER_00 (0.8 s)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if subtitleAnn.Turns[0].Start != 3661.5 {
		t.Error("WriteTurnsText reordered its input")
	}
}
