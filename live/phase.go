package live

import (
	"math"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/features"
)

// chunkGrid is the engine's chunk grid shifted by a session's phase: chunk
// c covers [phase + c·Hop, phase + c·Hop + Length) of the stream.
//
// Why a phase: a chunk is embedded at the step whose buffer first holds it
// whole, every Hop/Step-th step, and that step costs about twice a plain
// one (docs/STREAMING_BENCH.md, "Staggered chunk grids"). Streams started
// together would all take that step in the same half second; sessions of
// one engine therefore take turns at the phase (Engine.nextPhase), so that
// their chunk steps fall on different steps.
type chunkGrid struct {
	chunkembed.Grid
	phase int64 // samples, a multiple of the fbank frame shift
}

// Uses is chunkembed.Grid.Uses on the shifted grid.
func (g chunkGrid) Uses(a chunkembed.Activity, k int, start, end int64) []chunkembed.Use {
	return g.Grid.Uses(a, k, start-g.phase, end-g.phase)
}

// Start returns the first sample of chunk c.
func (g chunkGrid) Start(c int64) int64 { return g.Grid.Start(c) + g.phase }

// Holds reports whether chunk c covers sample x.
func (g chunkGrid) Holds(c, x int64) bool { return c >= 0 && g.Grid.Holds(c, x-g.phase) }

// Last returns the last chunk starting at or before sample x (−1 before
// the first chunk).
func (g chunkGrid) Last(x int64) int64 {
	if x < g.phase {
		return -1
	}
	return (x - g.phase) / g.Hop
}

// First returns the first chunk starting at or after sample x.
func (g chunkGrid) First(x int64) int64 { return (max(x-g.phase, 0) + g.Hop - 1) / g.Hop }

// phases is the number of distinct chunk steps a session can have: a chunk
// grid shifted by a whole hop is the same grid.
func (e *Engine) phases() int64 {
	return max(1, e.embedder.Config().Grid().Hop/e.stepLen())
}

func (e *Engine) stepLen() int64 { return int64(math.Round(e.cfg.Step * SampleRate)) }

// nextPhase returns the phase (in steps) of the next session that does not
// ask for one: the engine's sessions take the phases in turn.
func (e *Engine) nextPhase() int64 {
	return int64((e.started.Add(1) - 1) % uint64(e.phases()))
}

// grid returns the chunk grid of a session whose grid starts phase steps
// into its stream, on the fbank frame grid so that a chunk's frames are
// the stream's.
func (e *Engine) grid(phase int64) chunkGrid {
	off := phase % e.phases() * e.stepLen()
	off = (off + features.FrameShift/2) / features.FrameShift * features.FrameShift
	return chunkGrid{Grid: e.embedder.Config().Grid(), phase: off}
}
