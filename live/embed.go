package live

import (
	"context"
	"slices"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
)

// local is one local speaker of the current buffer.
type local struct {
	index        int // the segmentation model's local speaker
	maxP, meanP  float64
	vec          []float32 // unit embedding; nil if too little speech
	solo, active bool
	uses         []chunkembed.Use // the chunks pooled into vec
}

// localSpeakers summarises each local speaker's activity in the buffer
// starting at sample start: active when its probability reaches TauActive.
func (s *Session) localSpeakers(ch *segmentation.Chunk, start int64) []local {
	var out []local
	// Only the part of the buffer inside the stream counts towards the mean.
	f0 := 0
	if start < 0 {
		f0 = min(len(ch.Probs), int(-start/segmentation.FrameStep))
	}
	for k := range segmentation.LocalSpeakers {
		l := local{index: k}
		var sum float64
		for f := f0; f < len(ch.Probs); f++ {
			p := float64(ch.Probs[f][k])
			sum += p
			l.maxP = max(l.maxP, p)
		}
		if n := len(ch.Probs) - f0; n > 0 {
			l.meanP = sum / float64(n)
		}
		l.active = l.maxP >= s.cfg.TauActive
		out = append(out, l)
	}
	return out
}

// onlineLocals is the locals as the online clustering takes them.
func onlineLocals(locals []local) []clustering.OnlineLocal {
	out := make([]clustering.OnlineLocal, len(locals))
	for i, l := range locals {
		if l.active {
			out[i] = clustering.OnlineLocal{Vec: l.vec, MeanActivity: l.meanP, Solo: l.solo}
		}
	}
	return out
}

// embed gives each active local speaker an embedding with the engine's
// chunk embedder: pooled from the chunks of the stream's grid where it
// speaks alone (each chunk embedded once per stream) or, without any, from
// its own speech in the buffer, which the next FallbackReuse buffers reuse
// while the speaker goes on.
func (s *Session) embed(ctx context.Context, locals []local, ch *segmentation.Chunk, start, end int64) error {
	grid := s.grid
	var need []int64
	for i, l := range locals {
		if !l.active {
			continue
		}
		locals[i].uses = grid.Uses(ch.Active, l.index, start, end)
		for _, u := range locals[i].uses {
			if _, ok := s.chunkVecs[u.Chunk]; !ok && !slices.Contains(need, u.Chunk) {
				need = append(need, u.Chunk)
			}
		}
	}
	if err := s.embedChunks(ctx, need); err != nil {
		return err
	}
	first := grid.First(start) // the buffer's first chunk
	for c := range s.chunkVecs {
		if c < first {
			delete(s.chunkVecs, c) // no later buffer reaches back this far
		}
	}
	var memos []memo
	for i := range locals {
		l := &locals[i]
		if !l.active {
			continue
		}
		if len(l.uses) > 0 {
			l.vec = chunkembed.Pool(l.uses, func(c int64) []float32 { return s.chunkVecs[c] })
			l.solo = true
			continue
		}
		if m, ok := s.reusable(l.index, ch, start); ok {
			l.vec, l.solo = m.vec, m.solo
			memos = append(memos, memo{index: l.index, vec: m.vec, solo: m.solo, age: m.age + 1})
			continue
		}
		if err := s.embedOwnSpeech(l, ch, start); err != nil {
			return err
		}
		if l.vec != nil {
			memos = append(memos, memo{index: l.index, vec: l.vec, solo: l.solo})
		}
	}
	s.prev, s.memos = ch, memos
	return nil
}

// embedChunks embeds the chunks, from the fbank cache, into s.chunkVecs.
func (s *Session) embedChunks(ctx context.Context, chunks []int64) error {
	if len(chunks) == 0 {
		return nil
	}
	if s.chunkVecs == nil {
		s.chunkVecs = map[int64][]float32{}
	}
	e := s.engine.embedder
	grid, frames := s.grid, int64(e.ChunkFrames())
	feats := func(c int64, dst []float32) ([]float32, error) {
		first := grid.Start(c) / features.FrameShift
		return append(dst, s.audio.frames(first, first+frames)...), nil
	}
	vecs, err := e.Chunks(ctx, chunks, feats, nil)
	if err != nil {
		return err
	}
	for i, c := range chunks {
		s.chunkVecs[c] = vecs[i]
	}
	return nil
}

// embedOwnSpeech embeds the fbank frames of the buffer where l speaks alone
// (or, with too few of those, at all: chunkembed.OwnSpeech); too little
// speech leaves l.vec nil.
func (s *Session) embedOwnSpeech(l *local, ch *segmentation.Chunk, start int64) error {
	minFrames := max(embedding.MinFrames, int(s.cfg.Embed.MinFallbackSeconds*SampleRate/features.FrameShift))
	first := max(s.audio.featBase, (max(start, 0)+features.FrameShift-1)/features.FrameShift)
	var sel []float32
	collect := func(soloOnly bool) int {
		sel = sel[:0]
		for j := first; j < s.audio.featNext; j++ {
			centre := j*features.FrameShift + features.FrameLength/2
			f := segFrame(centre, start, len(ch.Active))
			if chunkembed.FrameHas(ch.Active[f], l.index, soloOnly) {
				sel = append(sel, s.audio.frames(j, j+1)...)
			}
		}
		return len(sel) / features.NumMelBins
	}
	solo, enough := chunkembed.OwnSpeech(minFrames, collect)
	if !enough {
		return nil
	}
	v, err := s.engine.embedder.Frames(sel)
	if err != nil {
		return err
	}
	l.vec, l.solo = v, solo
	return nil
}

// memo is an own-speech embedding of local speaker index of the last
// buffer, reused age times so far.
type memo struct {
	index int
	vec   []float32
	solo  bool
	age   int
}

// sameVoice is the least agreement (Jaccard index of the hard activity over
// the time both buffers cover) at which a local speaker is taken to continue
// one of the last buffer.
const sameVoice = 0.8

// reusable returns the last buffer's own-speech embedding of the local
// speaker that local k of this buffer continues, if it may be reused.
func (s *Session) reusable(k int, ch *segmentation.Chunk, start int64) (memo, bool) {
	best, bestJ := -1, sameVoice
	for i, m := range s.memos {
		if m.age >= s.cfg.FallbackReuse {
			continue
		}
		if j := agreement(ch, k, start, s.prev, m.index, s.lastEnd-s.bufLen, s.bufLen); j >= bestJ {
			best, bestJ = i, j
		}
	}
	if best < 0 {
		return memo{}, false
	}
	return s.memos[best], true
}

// agreement is the Jaccard index of local k's hard activity in ch (buffer
// starting at start) and local pk's in prev (starting at pstart, bufLen
// long), over the frames of ch inside both buffers and the stream.
func agreement(ch *segmentation.Chunk, k int, start int64, prev *segmentation.Chunk, pk int, pstart, bufLen int64) float64 {
	var inter, union int
	for f := range ch.Active {
		x := start + int64(f)*segmentation.FrameStep + segmentation.FrameSize/2
		if x < 0 || x >= pstart+bufLen {
			continue
		}
		a, b := ch.Active[f][k], prev.Active[segFrame(x, pstart, len(prev.Active))][pk]
		if a && b {
			inter++
		}
		if a || b {
			union++
		}
	}
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}
