package live

import (
	"context"
	"errors"
	"github.com/whospoke/whospoke/segmentation"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/embedding"
)

// sampleHead is the first 20 s of the sample conversation (two speakers
// from 6.7 s): enough for turns and a change, quick on 2 cores.
func sampleHead(t *testing.T) []float32 {
	s := loadSamples(t, samplePath())
	return s[:min(len(s), 20*SampleRate)]
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.Buffer = 2 },
		func(c *Config) { c.Step = 0.6 },
		func(c *Config) { c.Latency = 0.2 },
		func(c *Config) { c.Latency = 11 },
		func(c *Config) { c.MaxSpeakers = 0 },
		func(c *Config) { c.TauActive = 1 },
		func(c *Config) { c.DeltaNew = math.NaN() },
		func(c *Config) { c.Offset = 0.9 },
		func(c *Config) { c.FallbackReuse = -1 },
		func(c *Config) { c.SpeechGate = 1 },
		func(c *Config) { c.SpeechGate = -0.1 },
		func(c *Config) { c.SpeechGate = math.NaN() },
	} {
		c := DefaultConfig()
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
	if _, err := New(DefaultConfig(), Models{}); err == nil {
		t.Error("no models: want an error")
	}
	noVAD := testModels(t)
	noVAD.VAD = nil
	if _, err := New(DefaultConfig(), noVAD); err == nil {
		t.Error("speech gate without the VAD: want an error")
	}
	off := DefaultConfig()
	off.SpeechGate = 0
	if _, err := New(off, noVAD); err != nil {
		t.Errorf("no gate, no VAD: %v", err)
	}
}

func TestCheckEvents(t *testing.T) {
	ok := []Event{{Start, "A", 1}, {Start, "B", 1.5}, {End, "A", 2}, {End, "B", 2}}
	if err := CheckEvents(ok, 3, true); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]Event{
		"end first":   {{End, "A", 1}},
		"double":      {{Start, "A", 1}, {Start, "A", 2}},
		"backwards":   {{Start, "A", 2}, {End, "A", 1}},
		"past audio":  {{Start, "A", 1}, {End, "A", 4}},
		"never ended": {{Start, "A", 1}},
	} {
		if CheckEvents(bad, 3, true) == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	a, err := ToAnnotation("x", ok)
	if err != nil || len(a.Turns) != 2 || a.Turns[0].Speaker != "A" || a.Turns[1].End != 2 {
		t.Fatalf("annotation %+v, %v", a, err)
	}
}

// A real two-speaker conversation: valid events, two speakers, the first
// turn near the reference's 6.69 s, and labels in order of first speech.
func TestSampleEvents(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)
	events := run(t, e, samples, 1600)
	if err := CheckEvents(events, float64(len(samples))/SampleRate, true); err != nil {
		t.Fatal(err)
	}
	speakers := map[string]bool{}
	for _, ev := range events {
		if ev.Type == Start && !speakers[ev.Speaker] && ev.Speaker != label(len(speakers)) {
			t.Fatalf("speaker %s starts before %s", ev.Speaker, label(len(speakers)))
		}
		speakers[ev.Speaker] = true
	}
	if len(speakers) != 2 {
		t.Errorf("%d speakers, want 2: %v", len(speakers), events)
	}
	if len(events) == 0 || events[0].Time < 6 || events[0].Time > 8 {
		t.Errorf("first event %v, want a start near 6.7 s", events)
	}
	a, err := ToAnnotation("sample", events)
	if err != nil || len(a.Turns) == 0 {
		t.Fatalf("annotation: %v", err)
	}

}

var (
	sliceOnce   sync.Once
	sliceEvents []Event
)

// slice is 10 s of the conversation (5..15 s) and its events in 100 ms
// frames, computed once for the tests that compare against them.
func slice(t *testing.T, e *Engine) ([]float32, []Event) {
	samples := sampleHead(t)[5*SampleRate : 15*SampleRate]
	sliceOnce.Do(func() { sliceEvents = run(t, e, samples, 1600) })
	if len(sliceEvents) == 0 {
		t.Fatal("no events in 5..15 s of conversation")
	}
	return samples, sliceEvents
}

// A local speaker continues one of the last buffer when their activity
// agrees over the time both buffers cover, whatever their local indexes.
func TestAgreement(t *testing.T) {
	const n = 100
	step := int64(10 * segmentation.FrameStep) // the buffer moved 10 frames on
	talk := func(k int, from, to int64) *segmentation.Chunk {
		ch := &segmentation.Chunk{Active: make([][segmentation.LocalSpeakers]bool, n), Probs: make([][segmentation.LocalSpeakers]float32, n)}
		for f := from; f < to; f++ {
			ch.Active[f][k] = true
		}
		return ch
	}
	bufLen := int64((n-1)*segmentation.FrameStep + segmentation.FrameSize)
	// Frames 40..60 of the previous buffer are frames 30..50 of this one.
	prev, cur := talk(2, 40, 60), talk(0, 30, 50)
	if j := agreement(cur, 0, step, prev, 2, 0, bufLen); j != 1 {
		t.Errorf("same speech: agreement %v, want 1", j)
	}
	if j := agreement(cur, 1, step, prev, 2, 0, bufLen); j != 0 {
		t.Errorf("silent local: agreement %v, want 0", j)
	}
	if j := agreement(talk(0, 50, 70), 0, step, prev, 2, 0, bufLen); j != 0 {
		t.Errorf("later speech: agreement %v, want 0", j)
	}
	// Speech past the end of the previous buffer is not held against it.
	if j := agreement(talk(0, 30, 100), 0, step, talk(2, 40, 100), 2, 0, bufLen); j != 1 {
		t.Errorf("speech going on: agreement %v, want 1", j)
	}
}

// Reusing own-speech embeddings changes the work, not the event stream's
// consistency.
func TestFallbackReuse(t *testing.T) {
	for _, reuse := range []int{0, 3} {
		cfg := DefaultConfig()
		cfg.FallbackReuse = reuse
		samples := sampleHead(t)
		events := run(t, testEngine(t, cfg), samples, 1600)
		if err := CheckEvents(events, float64(len(samples))/SampleRate, true); err != nil {
			t.Fatalf("reuse %d: %v", reuse, err)
		}
		if len(events) == 0 {
			t.Fatalf("reuse %d: no events", reuse)
		}
	}
}

// Odd frame sizes give the same events as 100 ms frames.
func TestFrameSizes(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples, want := slice(t, e)
	for _, frame := range []int{777, 16001} {
		if got := run(t, e, samples, frame); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames of %d samples: %v\nwant %v", frame, got, want)
		}
	}
}

// A Push whose context has ended fails with its error once a step is due,
// and leaves the session where it was: an empty Push with a live context
// then runs that step, and the events are those of an uninterrupted stream.
func TestPushCancelled(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples, want := slice(t, e)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	s := e.NewSession(WithChunkPhase(testPhase))
	var got []Event
	cancelled := false
	for off := 0; off < len(samples); off += 1600 {
		frame := samples[off:min(off+1600, len(samples))]
		if off >= len(samples)/2 && !cancelled {
			ev, err := s.Push(ended, frame)
			got = append(got, ev...)
			if err == nil {
				continue // no step due: the audio is taken, no work done
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("push with an ended context: %v, want context.Canceled", err)
			}
			cancelled, frame = true, nil
		}
		ev, err := s.Push(context.Background(), frame)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev...)
	}
	got = append(got, s.Flush(context.Background())...)
	if !cancelled {
		t.Fatal("no push was cancelled")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a cancelled push: %v\nwant %v", got, want)
	}
}

// Flush with an ended context still decides and closes every turn, from the
// earlier buffers, and Err says why the last one did not run.
func TestFlushCancelled(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)[:10*SampleRate+3000] // the last 3000 samples make no full step
	s := e.NewSession()
	events := push(t, s, samples, 1600, false)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	events = append(events, s.Flush(ended)...)
	if !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("Err after a cancelled flush: %v", s.Err())
	}
	if err := CheckEvents(events, s.Duration(), true); err != nil {
		t.Fatal(err)
	}
}

func TestSilenceAndFlush(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	if ev := run(t, e, make([]float32, 6*SampleRate), 1600); len(ev) != 0 {
		t.Fatalf("silence gave %v", ev)
	}
	// Flush mid-turn closes the turn at the end of the audio; then the
	// session is closed.
	samples := sampleHead(t)[:10*SampleRate]
	s := e.NewSession()
	var events []Event
	for off := 0; off < len(samples); off += 1600 {
		ev, err := s.Push(context.Background(), samples[off:off+1600])
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev...)
	}
	if CheckEvents(events, 10, true) == nil {
		t.Fatal("no turn open at 10 s: the test audio should be mid-conversation")
	}
	events = append(events, s.Flush(context.Background())...)
	if err := CheckEvents(events, 10, true); err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != End || last.Time != 10 {
		t.Errorf("last event %+v, want an end at 10 s", last)
	}
	if _, err := s.Push(context.Background(), samples[:1600]); err != ErrClosed {
		t.Errorf("push after flush: %v", err)
	}
	if ev := s.Flush(context.Background()); ev != nil {
		t.Errorf("second flush: %v", ev)
	}
	// An empty stream and one shorter than a step flush cleanly.
	if ev := e.NewSession().Flush(context.Background()); len(ev) != 0 {
		t.Errorf("empty stream: %v", ev)
	}
	short := e.NewSession()
	short.Push(context.Background(), samples[:3000])
	if err := CheckEvents(short.Flush(context.Background()), 3000.0/SampleRate, true); err != nil {
		t.Error(err)
	}
}

// Sessions on one engine run concurrently and do not disturb each other.
func TestConcurrentSessions(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples, want := slice(t, e)
	var wg sync.WaitGroup
	got := make([][]Event, 2)
	for i := range got {
		wg.Go(func() {
			s := e.NewSession(WithChunkPhase(testPhase))
			for off := 0; off < len(samples); off += 1600 {
				ev, err := s.Push(context.Background(), samples[off:off+1600])
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = append(got[i], ev...)
			}
			got[i] = append(got[i], s.Flush(context.Background())...)
		})
	}
	wg.Wait()
	for i := range got {
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("session %d: %v\nwant %v", i, got[i], want)
		}
	}
}

func TestEventTypeString(t *testing.T) {
	if !strings.HasSuffix(Start.String(), "start") || !strings.HasSuffix(End.String(), "end") {
		t.Fatal(Start, End)
	}
}

// Speakers gives one unit centroid per labelled speaker, and a session
// capped at one speaker labels everything SPEAKER_00.
func TestSpeakersAndMaxSpeakers(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)
	s := e.NewSession()
	push(t, s, samples, 1600, false)
	sp := s.Speakers()
	if len(sp) != s.NumSpeakers() || len(sp) != 2 {
		t.Fatalf("%d centroids for %d speakers", len(sp), s.NumSpeakers())
	}
	for l, v := range sp {
		if n := embedding.Cosine(v, v); math.Abs(n-1) > 1e-4 {
			t.Errorf("%s: |v|² = %v", l, n)
		}
	}
	if c := embedding.Cosine(sp["SPEAKER_00"], sp["SPEAKER_01"]); c > 0.8 {
		t.Errorf("the two speakers' centroids are alike: cosine %.3f", c)
	}
	one := e.NewSession(WithMaxSpeakers(1))
	events := append(push(t, one, samples, 1600, false), one.Flush(context.Background())...)
	for _, ev := range events {
		if ev.Speaker != "SPEAKER_00" {
			t.Fatalf("max 1 speaker, got %v", ev)
		}
	}
	if len(events) == 0 {
		t.Fatal("no events with max 1 speaker")
	}
}

func TestMatchLabels(t *testing.T) {
	turn := func(s string, a, b float64) annotation.Turn {
		return annotation.Turn{Segment: annotation.Segment{Start: a, End: b}, Speaker: s}
	}
	live := &annotation.Annotation{Turns: []annotation.Turn{
		turn("SPEAKER_00", 0, 5), turn("SPEAKER_01", 5, 10), turn("SPEAKER_02", 10, 11),
	}}
	other := &annotation.Annotation{Turns: []annotation.Turn{
		turn("SPEAKER_00", 0.2, 4.8), // live 01's time mostly → 01
		turn("SPEAKER_00", 5, 9),
		turn("SPEAKER_01", 0, 5),                               // → 00
		turn("SPEAKER_02", 20, 21), turn("SPEAKER_03", 30, 31), // no overlap → fresh labels
	}}
	other.Turns[0].Speaker = "SPEAKER_01"
	got := MatchLabels(live, other)
	want := map[string]string{"SPEAKER_01": "SPEAKER_00", "SPEAKER_00": "SPEAKER_01", "SPEAKER_02": "SPEAKER_03", "SPEAKER_03": "SPEAKER_04"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := MatchLabels(&annotation.Annotation{}, other); len(got) != 4 || got["SPEAKER_01"] == got["SPEAKER_00"] {
		t.Fatalf("no live labels: %v", got)
	}
}
