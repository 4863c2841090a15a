package chunkembed

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/segmentation"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{DefaultConfig(), LiveConfig()} {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for name, mod := range map[string]func(*Config){
		"short chunk":   func(c *Config) { c.ChunkSeconds = 0.2 },
		"hop > chunk":   func(c *Config) { c.HopSeconds = 3 },
		"NaN hop":       func(c *Config) { c.HopSeconds = math.NaN() },
		"no solo":       func(c *Config) { c.MinSolo = 0 },
		"other > 1":     func(c *Config) { c.MaxOther = 1.5 },
		"tiny fallback": func(c *Config) { c.MinFallbackSeconds = 0.01 },
		"no batch":      func(c *Config) { c.Batch = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if g := LiveConfig().Grid(); g.Length != 32000 || g.Hop != 32000 {
		t.Errorf("live grid %+v, want 2 s chunks back to back", g)
	}
}

// activity is n frames in which local 0 speaks in [a0, a1) and local 1 in
// [b0, b1) (frame indexes).
func activity(n, a0, a1, b0, b1 int) Activity {
	a := make(Activity, n)
	for f := range a {
		a[f][0] = f >= a0 && f < a1
		a[f][1] = f >= b0 && f < b1
	}
	return a
}

// A chunk represents a local speaker where it speaks alone enough and others
// little; chunks outside the window or before the stream never count.
func TestUses(t *testing.T) {
	g := DefaultConfig().Grid() // 2 s every 1 s
	n := segmentation.NumFrames
	// Local 0 speaks throughout, local 1 over the second half.
	a := activity(n, 0, n, n/2, n)
	solo, other := ChunkShares(a, 0, 0, g.Length)
	if solo != 1 || other != 0 {
		t.Fatalf("first chunk: solo %v other %v, want 1, 0", solo, other)
	}
	uses := g.Uses(a, 0, 0, segmentation.WindowSamples)
	if len(uses) == 0 || uses[0].Chunk != 0 || uses[0].Weight != 1 {
		t.Fatalf("uses %v, want chunk 0 first with weight 1", uses)
	}
	for _, u := range uses {
		if g.Start(u.Chunk)+g.Length > segmentation.WindowSamples {
			t.Errorf("chunk %d reaches past the window", u.Chunk)
		}
		if g.Start(u.Chunk) >= segmentation.WindowSamples/2 {
			t.Errorf("chunk %d is in the overlap, where local 1 speaks too", u.Chunk)
		}
	}
	if u := g.Uses(a, 1, 0, segmentation.WindowSamples); len(u) != 0 {
		t.Errorf("local 1 never speaks alone, yet has chunks %v", u)
	}
	// A buffer starting before the stream: no chunk before sample 0.
	if u := g.Uses(a, 0, -g.Hop, segmentation.WindowSamples-g.Hop); len(u) == 0 || u[0].Chunk != 0 {
		t.Errorf("buffer before the stream: uses %v, want chunk 0 first", u)
	}
	if !Speaks(a, 1) || Speaks(activity(n, 0, 0, 0, 0), 0) {
		t.Error("Speaks")
	}
	if !FrameHas(a[0], 0, true) || FrameHas(a[n-1], 0, true) || !FrameHas(a[n-1], 0, false) {
		t.Error("FrameHas")
	}
}

// Pool weights each chunk by its share; OwnSpeech prefers solo speech.
func TestPoolAndOwnSpeech(t *testing.T) {
	x, y := make([]float32, embedding.Dim), make([]float32, embedding.Dim)
	x[0], y[1] = 1, 1
	v := Pool([]Use{{Chunk: 0, Weight: 0.75}, {Chunk: 1, Weight: 0.25}}, func(c int64) []float32 { return [][]float32{x, y}[c] })
	if math.Abs(float64(v[0]/v[1])-3) > 1e-5 || math.Abs(embedding.Cosine(v, v)-1) > 1e-5 {
		t.Errorf("pooled %v %v, want 3:1 and unit length", v[0], v[1])
	}
	found := map[bool]int{true: 5, false: 12}
	if solo, ok := OwnSpeech(10, func(s bool) int { return found[s] }); solo || !ok {
		t.Errorf("5 solo, 12 in all, least 10: solo %v enough %v", solo, ok)
	}
	if solo, ok := OwnSpeech(4, func(s bool) int { return found[s] }); !solo || !ok {
		t.Errorf("least 4: solo %v enough %v", solo, ok)
	}
	if _, ok := OwnSpeech(20, func(s bool) int { return found[s] }); ok {
		t.Error("least 20: enough")
	}
}

// Chunks in batches of any size give each chunk its own vector, in list
// order, the same as one at a time; too little speech is an error.
func TestEmbedderChunks(t *testing.T) {
	model, err := embedding.New(embedding.Config{Model: filepath.Join(testenv.ModelsDir("3dspeaker-campplus-zh-en"), "3dspeaker-campplus-zh-en", "model.onnx"), Threads: 1})
	if err != nil {
		t.Skipf("embedding model not installed: %v", err)
	}
	defer model.Close()
	r := rand.New(rand.NewPCG(1, 2))
	audio := make([]float32, 5*segmentation.SampleRate)
	for i := range audio {
		audio[i] = float32(r.NormFloat64()) * 0.1 * float32(math.Sin(float64(i)/(300+float64(i/16000)*200)))
	}
	embed := func(batch int) [][]float32 {
		cfg := DefaultConfig()
		cfg.Batch = batch
		e, err := New(cfg, model, nil)
		if err != nil {
			t.Fatal(err)
		}
		g := cfg.Grid()
		feats := func(c int64, dst []float32) ([]float32, error) {
			return e.Fbank().Compute(audio[g.Start(c):g.Start(c)+g.Length], dst), nil
		}
		vecs, err := e.Chunks(context.Background(), []int64{3, 0, 2}, feats, nil)
		if err != nil {
			t.Fatal(err)
		}
		return vecs
	}
	one, two := embed(1), embed(2)
	if len(one) != 3 || len(two) != 3 {
		t.Fatalf("%d and %d vectors for 3 chunks", len(one), len(two))
	}
	for i := range one {
		if c := embedding.Cosine(one[i], two[i]); c < 0.999 {
			t.Errorf("chunk %d: batch 1 and 2 disagree (cosine %v)", i, c)
		}
	}
	if embedding.Cosine(one[0], one[1]) > 0.999 {
		t.Error("different chunks gave the same vector")
	}
	e, _ := New(DefaultConfig(), model, nil)
	if _, err := e.Speech(audio[:800]); !errors.Is(err, ErrTooLittleSpeech) {
		t.Errorf("50 ms of audio: %v, want ErrTooLittleSpeech", err)
	}
	if _, err := New(DefaultConfig(), nil, nil); err == nil {
		t.Error("no model: want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Chunks(ctx, []int64{0}, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
