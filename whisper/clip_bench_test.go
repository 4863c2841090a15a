package whisper

import (
	"context"
	"fmt"
	"testing"

	"github.com/whospoke/whospoke/internal/testenv"
)

// BenchmarkTranscribeClip times one clip's encoder and greedy decoding
// (no word timestamps) in a 30 s window and in the short one, on 1 thread
// as docs/MODELS.md's speed table. The clips are the first 2, 5, 10 and 20 s of
// a 22.75 s LibriSpeech utterance (continuous read speech). It reports the
// window used: a short clip that needs the guard's 30 s re-decode shows
// 3000 and costs both.
//
//	go test ./whisper/ -run XXX -bench TranscribeClip -benchtime 5x
func BenchmarkTranscribeClip(b *testing.B) {
	wav := testenv.DevSet(b, "speakers/ls_3080/3080-5032-0009.wav") + "/speakers/ls_3080/3080-5032-0009.wav"
	x := samples(b, loadAudio(b, wav))
	m, err := New(DefaultConfig(modelDir("whisper-tiny.en")).WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if !m.VariableWindow() {
		b.Fatal("tiny.en lacks the variable-length files")
	}
	for _, sec := range []int{2, 5, 10, 20} {
		clip := x[:sec*SampleRate]
		for _, short := range []bool{false, true} {
			name := fmt.Sprintf("%ds/full", sec)
			if short {
				name = fmt.Sprintf("%ds/short", sec)
			}
			b.Run(name, func(b *testing.B) {
				var r *Result
				for b.Loop() {
					var err error
					if r, err = m.TranscribeClip(context.Background(), clip, ClipOptions{Short: short}); err != nil {
						b.Fatal(err)
					}
				}
				window := WindowFrames
				for _, s := range r.Segments {
					window = min(window, s.WindowFrames)
				}
				b.ReportMetric(float64(window), "window-frames")
			})
		}
	}
}
