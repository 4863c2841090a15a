package whisper

import (
	"context"
	"math"
	"path/filepath"

	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/whospoke/whospoke/internal/testenv"
)

// TestRewiredDecoderIsExact: the decoder rewired to per-layer caches and
// cross-attention inputs gives the same logits and alignment scores, bit
// for bit, as the same model file as exported, on a prompt prefill and on
// a whole timestamped decoding of jfk, with and without a prompt (the
// rewired decoder projects only the rows it needs: logitRows), for both
// models; in the 30 s window
// and, with tiny.en's variable-length files, in a short one (12 s).
func TestRewiredDecoderIsExact(t *testing.T) {
	a := loadAudio(t, testenv.DevSet(t)+"/asr/jfk.wav")
	for _, name := range []string{"whisper-tiny.en", "whisper-base"} {
		m := model(t, name)
		if !m.rewired {
			t.Fatalf("%s: the decoder was not rewired", name)
		}
		orig := original(t, m, name)
		mel := logMel(t, m, samples(t, a))
		windows := [][]float32{mel}
		if m.dyn {
			short := make([]float32, 0, NMels*1200)
			for r := range NMels {
				short = append(short, mel[r*WindowFrames:r*WindowFrames+1200]...)
			}
			windows = append(windows, short)
		}
		for _, w := range windows {
			encs, err := m.encode(w)
			if err != nil {
				t.Fatal(err)
			}
			defer encs[0].release()
			compareDecoders(t, name, m, orig, encs[0])
			t.Logf("%s: %d encoder positions compared", name, encs[0].ctx)
		}
	}
}

func compareDecoders(t *testing.T, name string, m, orig *Model, enc *encoded) {
	seq, err := m.mc.sotSequence("en", true)
	if err != nil {
		t.Fatal(err)
	}
	prefill := append(append([]int{m.mc.Special.SOTPrev}, 843, 523, 616), seq...)
	lg, qk := stepOutputs(t, m, enc, prefill)
	lg0, qk0 := stepOutputs(t, orig, enc, prefill)
	if !bitsEqual(lg, lg0) || !bitsEqual(qk, qk0) {
		t.Errorf("%s, %d encoder positions: prefill logits or alignment differ from the exported graph's", name, enc.ctx)
	}
	for _, prompt := range [][]int{nil, {843, 523, 616}} {
		opt := DecodeOptions{Language: "en", Timestamps: true, MaxInitialTimestamp: 1, Prompt: prompt}
		r, r0 := decodeWith(t, m, enc, opt), decodeWith(t, orig, enc, opt)
		if !sameResult(r, r0) {
			t.Errorf("%s, %d encoder positions, prompt %v: decoding differs:\n%+v\nexported graph:\n%+v", name, enc.ctx, prompt, r, r0)
		}
	}
}

// original is m with its decoder file as exported, not rewired.
func original(t *testing.T, m *Model, name string) *Model {
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	file := DecoderFile
	if m.dyn {
		file = DynDecoderFile
	}
	dec, err := ort.NewDynamicAdvancedSession(filepath.Join(modelDir(name), file), exportedInputs, exportedOutputs, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dec.Destroy() })
	o := *m
	o.dec, o.rewired = dec, false
	return &o
}

func stepOutputs(t *testing.T, m *Model, enc *encoded, tokens []int) (lg, qk []float32) {
	d, err := m.newDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	d.reset()
	all := make([]int, len(tokens))
	for i := range all {
		all[i] = i
	}
	err = d.step(enc, tokens, 0, all, func(rows [][]float32, q []float32) error {
		for _, r := range rows {
			lg = append(lg, r...)
		}
		qk = append(qk, q...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lg, qk
}

func decodeWith(t *testing.T, m *Model, enc *encoded, opt DecodeOptions) *DecodeResult {
	d, err := m.newDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	r, err := m.decodeWindow(context.Background(), d, enc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func sameResult(a, b *DecodeResult) bool {
	return equalInts(a.Tokens, b.Tokens) && a.Text == b.Text && a.Language == b.Language &&
		a.AvgLogprob == b.AvgLogprob && a.NoSpeechProb == b.NoSpeechProb && a.CompressionRatio == b.CompressionRatio
}
