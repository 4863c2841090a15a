package diarize

import (
	"context"
	"errors"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/segmentation"
)

// pair is one active local speaker of one window.
type pair struct {
	w, k int
	vec  []float32 // unit-length embedding; nil when the speaker is too brief
	// clean: the embedding comes from chunks of solo speech, so it is
	// trusted to shape the clusters (others are only assigned to them).
	clean bool
	// uses are the clean chunks pooled into vec, in time order.
	uses []chunkembed.Use
}

// chunkSet is the file's chunk grid and its embedded chunks.
type chunkSet struct {
	vecs [][]float32 // unit vector per chunk index; nil where not embedded
	grid chunkembed.Grid
}

// embed gives every active (window, local speaker) pair its embedding from
// the file's chunk grid (chunkembed), or from its own speech when no chunk
// represents it.
func (p *Pipeline) embed(ctx context.Context, src Source, seg *segmentation.Output, progress func(int, int)) ([]pair, *chunkSet, error) {
	grid := p.emb.Config().Grid()
	n := seg.NumSamples
	nChunks := 0
	if n >= grid.Length {
		nChunks = int((n-grid.Length)/grid.Hop) + 1
	}

	// Which chunks represent which pairs, with what weight.
	var pairs []pair
	needed := make([]bool, nChunks)
	for w, start := range seg.Starts {
		end := min(start+segmentation.WindowSamples, n)
		for k := range segmentation.LocalSpeakers {
			if !chunkembed.Speaks(seg.Active[w][:], k) {
				continue
			}
			u := grid.Uses(seg.Active[w][:], k, start, end)
			for _, x := range u {
				needed[x.Chunk] = true
			}
			pairs = append(pairs, pair{w: w, k: k, clean: len(u) > 0, uses: u})
		}
	}

	vecs, err := p.embedChunks(ctx, src, grid, needed, progress)
	if err != nil {
		return nil, nil, err
	}
	for i := range pairs {
		if len(pairs[i].uses) > 0 {
			pairs[i].vec = chunkembed.Pool(pairs[i].uses, func(c int64) []float32 { return vecs[c] })
		}
	}
	// Brief speakers: embed their own speech in the window, if long enough.
	for i := range pairs {
		if pairs[i].vec != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		v, err := p.embedPairSpeech(src, seg, pairs[i].w, pairs[i].k)
		if err != nil {
			return nil, nil, err
		}
		pairs[i].vec = v
	}
	return pairs, &chunkSet{vecs: vecs, grid: grid}, nil
}

// embedChunks embeds every needed chunk, batched, and returns unit vectors
// indexed by chunk (nil where not needed).
func (p *Pipeline) embedChunks(ctx context.Context, src Source, grid chunkembed.Grid, needed []bool, progress func(int, int)) ([][]float32, error) {
	var list []int64
	for c, need := range needed {
		if need {
			list = append(list, int64(c))
		}
	}
	samples := make([]float32, grid.Length)
	feats := func(c int64, dst []float32) ([]float32, error) {
		if err := segmentation.ReadPadded(src, samples, grid.Start(c)); err != nil {
			return nil, err
		}
		return p.emb.Fbank().Compute(samples, dst), nil
	}
	embs, err := p.emb.Chunks(ctx, list, feats, progress)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(needed))
	for i, c := range list {
		out[c] = embs[i]
	}
	return out, nil
}

// embedPairSpeech embeds the audio where local speaker k of window w speaks
// alone (or, failing enough of that, at all). It returns nil when there is
// less than MinFallbackSeconds of it.
//
// Offline reads the speech back from the file and computes its fbank anew;
// the live session selects frames of its fbank cache instead (it keeps no
// random access to the audio), with the same choice of speech
// (chunkembed.OwnSpeech).
func (p *Pipeline) embedPairSpeech(src Source, seg *segmentation.Output, w, k int) ([]float32, error) {
	a := &seg.Active[w]
	minSamples := int(p.emb.Config().MinFallbackSeconds * segmentation.SampleRate)
	var speech []float32
	var readErr error
	collect := func(soloOnly bool) int {
		speech = speech[:0]
		for f := 0; f < segmentation.NumFrames && readErr == nil; {
			if !chunkembed.FrameHas(a[f], k, soloOnly) {
				f++
				continue
			}
			g := f
			for g < segmentation.NumFrames && chunkembed.FrameHas(a[g], k, soloOnly) {
				g++
			}
			// Frames overlap (991 samples every 270): take the span from the
			// first frame's centre region to the last's.
			from := seg.Starts[w] + int64(f*segmentation.FrameStep+segmentation.FrameSize/2-segmentation.FrameStep/2)
			to := min(seg.Starts[w]+int64(g*segmentation.FrameStep+segmentation.FrameSize/2-segmentation.FrameStep/2), seg.NumSamples)
			if to > from {
				buf := make([]float32, to-from)
				readErr = segmentation.ReadPadded(src, buf, from)
				speech = append(speech, buf...)
			}
			f = g
		}
		return len(speech)
	}
	_, enough := chunkembed.OwnSpeech(minSamples, collect)
	if readErr != nil {
		return nil, readErr
	}
	if !enough {
		return nil, nil
	}
	v, err := p.emb.Speech(speech)
	if errors.Is(err, chunkembed.ErrTooLittleSpeech) {
		return nil, nil
	}
	return v, err
}
