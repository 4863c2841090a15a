package diarize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/segmentation"
)

// When the segmentation hears nobody, the frames the VAD recovers are the
// reference's speech: most of its speech time, little of its silence.
func TestRecoverSpeechFollowsReference(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	base := filepath.Join(dev, "real/pyannote_sample")
	ref, _ := reference(t, base+".rttm", base+".uem")
	a := load(t, base+".wav")
	seg := &segmentation.Output{NumSamples: a.Len(), Step: segmentation.SampleRate}
	seg.Starts = segmentation.WindowStarts(seg.NumSamples, seg.Step)
	seg.Probs = make([][segmentation.NumFrames][segmentation.LocalSpeakers]float32, len(seg.Starts))
	seg.Active = make([][segmentation.NumFrames][segmentation.LocalSpeakers]bool, len(seg.Starts))
	speech, err := p.recoverSpeech(context.Background(), a, seg)
	if err != nil {
		t.Fatal(err)
	}
	var recovered annotation.Timeline
	for g, s := range speech {
		if s {
			recovered = append(recovered, frameSpan(g, g+1, a.Duration()))
		}
	}
	recovered = recovered.Union()
	talk := ref.Timeline().Union()
	hit := talk.Duration() - talk.Minus(recovered).Duration()
	silence := annotation.Timeline{{Start: 0, End: a.Duration()}}.Minus(talk)
	spurious := recovered.Duration() - recovered.Minus(silence).Duration()
	t.Logf("recovered %.1f of %.1f s of speech, %.1f of %.1f s of silence", hit, talk.Duration(), spurious, silence.Duration())
	if hit < 0.8*talk.Duration() {
		t.Errorf("recovered %.1f of %.1f s of reference speech, want ≥ 80 %%", hit, talk.Duration())
	}
	if spurious > 0.2*silence.Duration() {
		t.Errorf("recovered %.1f of %.1f s of silence, want ≤ 20 %%", spurious, silence.Duration())
	}
}

// Frames the segmentation already gives a speaker are never marked.
func TestRecoverSpeechOnlySilentFrames(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	a := load(t, filepath.Join(dev, "real/pyannote_sample.wav"))
	seg, err := p.seg.Run(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	speech, err := p.recoverSpeech(context.Background(), a, seg)
	if err != nil {
		t.Fatal(err)
	}
	silent := silentFrames(seg)
	n := 0
	for g, s := range speech {
		if s && !silent[g] {
			t.Fatalf("frame %d has speakers by count but was recovered", g)
		}
		if s {
			n++
		}
	}
	t.Logf("%d of %d frames recovered", n, len(silent))
}
