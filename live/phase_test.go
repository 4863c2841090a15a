package live

import (
	"context"
	"testing"

	"github.com/whospoke/whospoke/chunkembed"
)

// A shifted grid is the engine's grid moved by its phase: the same chunks
// of the same activity, relabelled, and nothing before the phase.
func TestChunkGridPhase(t *testing.T) {
	base := chunkembed.LiveConfig().Grid()
	g := chunkGrid{Grid: base, phase: 8000}
	// A 4 s buffer starting at 1.5 s in which local 0 speaks alone.
	const start, end = 24000, 24000 + 64000
	a := make(chunkembed.Activity, 234)
	for f := range a {
		a[f][0] = true
	}
	uses := g.Uses(a, 0, start, end)
	// Chunks start at 0.5 + 2c s: only chunk 1 (2.5–4.5 s) lies wholly in 1.5–5.5 s.
	if len(uses) != 1 || uses[0].Chunk != 1 || g.Start(1) != 40000 {
		t.Fatalf("uses %v, chunk 1 starts at %d; want chunk 1 at 40000", uses, g.Start(1))
	}
	for _, c := range []struct {
		x, last, first int64
		holds          bool
	}{{0, -1, 0, false}, {7999, -1, 0, false}, {8000, 0, 0, true}, {8001, 0, 1, true}, {40000, 1, 1, true}} {
		if g.Last(c.x) != c.last || g.First(c.x) != c.first || g.Holds(c.last, c.x) != c.holds {
			t.Errorf("sample %d: last %d first %d holds %v, want %d %d %v", c.x, g.Last(c.x), g.First(c.x), g.Holds(c.last, c.x), c.last, c.first, c.holds)
		}
	}
	if got := (chunkGrid{Grid: base}).Uses(a, 0, start, end); len(got) != 1 || got[0].Chunk != 1 {
		t.Errorf("phase 0: uses %v, want chunk 1 (2–4 s)", got)
	}
}

// Sessions of one engine take the phases in turn, one per step of the
// chunk hop (2 s / 0.5 s), unless they ask for one.
func TestChunkPhasesInTurn(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	var got []int64
	for range 5 {
		got = append(got, e.NewSession().grid.phase)
	}
	want := []int64{0, 8000, 16000, 24000, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("phases %v, want %v", got, want)
		}
	}
	if p := e.NewSession(WithChunkPhase(6)).grid.phase; p != 16000 {
		t.Errorf("WithChunkPhase(6): phase %d, want 16000 (6 mod 4 steps)", p)
	}
}

// Four sessions started together on the same speech embed their chunks at
// different steps: each at its own phase's steps, where its chunks become
// whole, so that the embedding work of streams started at once is spread
// over the hop instead of falling on one step.
func TestChunkStepsSpread(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	samples := sampleHead(t)[5*SampleRate : 15*SampleRate]
	perStep := int(e.phases())
	for p := range perStep {
		s := e.NewSession(WithChunkPhase(p))
		embedded := make([]int, perStep) // new chunk embeddings by step mod perStep
		for off, step := 0, 0; off+int(s.stepLen) <= len(samples); off, step = off+int(s.stepLen), step+1 {
			seen := map[int64]bool{}
			for c := range s.chunkVecs {
				seen[c] = true
			}
			if _, err := s.Push(context.Background(), samples[off:off+int(s.stepLen)]); err != nil {
				t.Fatal(err)
			}
			for c := range s.chunkVecs {
				if !seen[c] {
					embedded[step%perStep]++
				}
			}
		}
		s.Flush(context.Background())
		// Step k ends at (k+1)·Step; a chunk of phase p becomes whole at
		// the step ending at p·Step + 2 s + c·2 s, step index p+3 mod 4.
		own := (p + perStep - 1) % perStep
		total := 0
		for _, n := range embedded {
			total += n
		}
		t.Logf("phase %d: new chunk embeddings by step mod %d: %v", p, perStep, embedded)
		if total == 0 || 2*embedded[own] <= total {
			t.Errorf("phase %d: %v chunk embeddings by step, want most at step %d mod %d", p, embedded, own, perStep)
		}
	}
}
