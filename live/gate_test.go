package live

import (
	"context"
	"reflect"
	"testing"

	"github.com/whospoke/whospoke/vad"
)

// cellOf is the first decision cell of VAD frame f.
func cellOf(f int64) int64 { return (f*vad.FrameSamples + gridSamples - 1) / gridSamples }

// The gate removes only pauses of at least gateMinSilence frames below the
// threshold, keeps a frame of padding on each side, and counts frames not
// heard yet as speech.
func TestSpeechGateFrames(t *testing.T) {
	g := &speechGate{threshold: 0.01, minSilence: gateMinSilence, pad: gatePad}
	var probs []float32
	add := func(n int, p float32) {
		for range n {
			probs = append(probs, p)
		}
	}
	add(10, 0.9)  // frames 0..9: speech
	add(5, 0.005) // 10..14: a short pause
	add(10, 0.3)  // 15..24: speech heard badly, still above the floor
	add(20, 0)    // 25..44: silence
	add(5, 0.8)   // 45..49: speech
	add(3, 0.001) // 50..52: a pause running past what was heard
	g.add(probs)
	for _, c := range []struct {
		frame int64
		want  bool
	}{
		{5, true}, {12, true}, {20, true},
		{25, true}, {26, false}, {35, false}, {43, false}, {44, true},
		{47, true}, {51, true}, {53, true}, {100, true},
	} {
		if got := g.speech(cellOf(c.frame)); got != c.want {
			t.Errorf("frame %d: speech %v, want %v", c.frame, got, c.want)
		}
	}
	// Trimming forgets old frames but not the answers about kept ones.
	g.trim(cellOf(40))
	if g.base == 0 || g.speech(cellOf(43)) || !g.speech(cellOf(47)) {
		t.Errorf("after trim (base %d): frame 43 speech %v, 47 %v", g.base, g.speech(cellOf(43)), g.speech(cellOf(47)))
	}
}

// On the sample conversation, Silero at the default gate holds most of the
// silent start to be silence and none of a stretch of continuous speech.
func TestSpeechGateSample(t *testing.T) {
	g := newSpeechGate(testModels(t).VAD, DefaultConfig().SpeechGate)
	samples := sampleHead(t)[:15*SampleRate]
	for off := 0; off < len(samples); off += 1600 {
		if err := g.push(samples[off : off+1600]); err != nil {
			t.Fatal(err)
		}
	}
	share := func(from, to float64) float64 {
		var n, speech float64
		for c := int64(from * 100); c < int64(to*100); c++ {
			n++
			if g.speech(c) {
				speech++
			}
		}
		return speech / n
	}
	// The reference (dev's pyannote_sample.rttm) starts at 6.69 s; speaker
	// 90 talks on from 10.57 s to 14.70 s.
	t.Logf("speech share: silent start %.2f, conversation %.2f", share(1.5, 6.3), share(10.6, 14.6))
	if s := share(1.5, 6.3); s > 0.5 {
		t.Errorf("silent start 1.5–6.3 s: %.0f %% speech, want at most half", 100*s)
	}
	if s := share(10.6, 14.6); s < 1 {
		t.Errorf("speech 10.6–14.6 s: %.1f %% speech, want all", 100*s)
	}
}

// A session that hears the VAD from its caller (PushHeard) decides as one
// that runs the VAD itself.
func TestPushHeard(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)
	own, heard := e.NewSession(WithChunkPhase(testPhase)), e.NewSession(WithChunkPhase(testPhase))
	caller := testModels(t).VAD.NewStream()
	var want, got []Event
	for off := 0; off < len(samples); off += 1600 {
		frame := samples[off:min(off+1600, len(samples))]
		evs, err := own.Push(context.Background(), frame)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, evs...)
		probs, err := caller.Push(frame)
		if err != nil {
			t.Fatal(err)
		}
		if evs, err = heard.PushHeard(context.Background(), frame, probs); err != nil {
			t.Fatal(err)
		}
		got = append(got, evs...)
	}
	want = append(want, own.Flush(context.Background())...)
	got = append(got, heard.Flush(context.Background())...)
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("PushHeard: %d events %v, Push: %d events %v", len(got), got, len(want), want)
	}
}
