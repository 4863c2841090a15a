package live

import (
	"context"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/whospoke/whospoke/segmentation"
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
	// Sure silence from a sample on: only up to what was heard, and only
	// with no speech frame after it.
	for _, c := range []struct {
		from, to int64 // frames
		want     bool
	}{{50, 53, true}, {-10, 1, false}, {49, 53, false}, {50, 54, false}, {26, 44, false}} {
		// to is 100 samples into its frame, which need not be heard yet.
		if got := g.silentFrom(c.from*vad.FrameSamples, c.to*vad.FrameSamples+100); got != c.want {
			t.Errorf("silent from frame %d to %d: %v, want %v", c.from, c.to, got, c.want)
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

// A buffer of sure silence is not segmented, and the session decides as
// one that segments it (the model finds no one in it): 8 s of digital
// silence between two stretches of conversation.
func TestSilentBuffersSkipped(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	var calls int
	var mu sync.Mutex
	seg := testModels(t).Segmentation
	e.seg = newBatcher(1, 1, func(bufs [][]float32) ([]segmentation.Chunk, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return seg.InferChunks(bufs[0], 1)
	})
	head := sampleHead(t)
	samples := slices.Concat(head[6*SampleRate:12*SampleRate], make([]float32, 8*SampleRate), head[8*SampleRate:14*SampleRate])
	skips, always := e.NewSession(WithChunkPhase(testPhase)), e.NewSession(WithChunkPhase(testPhase))
	var got, want []Event
	for off := 0; off < len(samples); off += 1600 {
		frame := samples[off:min(off+1600, len(samples))]
		evs, err := skips.Push(context.Background(), frame)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, evs...)
		before := calls
		always.gate.speechEnd = math.MaxInt64 // never sure of silence: always segments
		if evs, err = always.Push(context.Background(), frame); err != nil {
			t.Fatal(err)
		}
		want = append(want, evs...)
		if steps := (always.audio.total / always.stepLen) - ((always.audio.total - int64(len(frame))) / always.stepLen); int64(calls-before) != steps {
			t.Fatalf("the session that never skips segmented %d buffers for %d steps", calls-before, steps)
		}
	}
	got = append(got, skips.Flush(context.Background())...)
	want = append(want, always.Flush(context.Background())...)
	steps := int(always.audio.total/always.stepLen) + 1 // and Flush's
	skipped := steps - (calls - steps)
	t.Logf("%d of %d buffers skipped", skipped, steps)
	if skipped < 6 {
		t.Errorf("%d of %d buffers skipped, want at least 6 of the 8 wholly inside the silence", skipped, steps)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events differ when silent buffers are skipped:\n got %v\nwant %v", got, want)
	}
	if len(got) == 0 || got[len(got)-1].Time < 16 {
		t.Errorf("no speech decided after the silence: %v", got)
	}
}
