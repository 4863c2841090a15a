package diarize

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/features"
	"github.com/whospoke/whospoke/segmentation"
)

// EmbedConfig says how (window, local speaker) pairs get their embeddings.
//
// Why chunks: a 1 s segmentation step makes every second of audio part of
// ten windows, and embedding each pair's audio separately spends 87 % of the
// time re-embedding the same speech (docs/ALGORITHMS.md). Instead the file is cut
// once into fixed chunks on one grid; each chunk is embedded at most once and
// pooled into every pair that speaks alone in it. Measured on dev (collar 0,
// real/sim): 2 s chunks every 1 s 22.1/19.5 at RTF 0.039; 1.5 s every 0.75 s
// 22.2/21.9; 3 s every 1 s 23.9/22.3; per-pair embeddings 22.7/18.1 at RTF
// 0.109 (BENCHMARKS.md).
type EmbedConfig struct {
	ChunkSeconds float64 // chunk length
	HopSeconds   float64 // chunk grid step
	// MinSolo is the share of a chunk's frames in which the local speaker
	// must speak alone for the chunk to represent it; MaxOther caps the
	// share in which anyone else speaks.
	MinSolo, MaxOther float64
	// MinFallbackSeconds: a pair with no clean chunk is embedded from its own
	// speech if it has at least this much; less is too short to identify.
	MinFallbackSeconds float64
	Batch              int // chunks per model call
}

// DefaultEmbedConfig returns the measured-best embedding settings.
func DefaultEmbedConfig() EmbedConfig {
	return EmbedConfig{ChunkSeconds: 2, HopSeconds: 1, MinSolo: 0.5, MaxOther: 0.15, MinFallbackSeconds: 0.25, Batch: 16}
}

// Validate checks the settings.
func (c EmbedConfig) Validate() error {
	switch {
	case c.ChunkSeconds < 0.5 || c.ChunkSeconds > 10:
		return fmt.Errorf("embedding chunk %.3gs outside 0.5..10 s", c.ChunkSeconds)
	case c.HopSeconds <= 0 || c.HopSeconds > c.ChunkSeconds:
		return fmt.Errorf("embedding hop %.3gs outside (0, chunk]", c.HopSeconds)
	case c.MinSolo <= 0 || c.MinSolo > 1 || c.MaxOther < 0 || c.MaxOther > 1:
		return errors.New("embedding MinSolo/MaxOther must be shares in (0,1]/[0,1]")
	case c.Batch < 1:
		return fmt.Errorf("embedding batch %d < 1", c.Batch)
	}
	return nil
}

// pair is one active local speaker of one window.
type pair struct {
	w, k int
	vec  []float32 // unit-length embedding; nil when the speaker is too brief
	// clean: the embedding comes from chunks of solo speech, so it is
	// trusted to shape the clusters (others are only assigned to them).
	clean bool
	// uses are the clean chunks pooled into vec, in time order.
	uses []chunkUse
}

// chunkUse is one chunk pooled into a pair's embedding, with its weight.
type chunkUse struct {
	chunk  int
	weight float32
}

// chunkSet is the file's chunk grid and its embedded chunks.
type chunkSet struct {
	vecs        [][]float32 // unit vector per chunk index; nil where not embedded
	length, hop int64       // in samples
}

// samples per fbank frame shift: chunk geometry is kept on that grid.
const shift = features.FrameShift

func (p *Pipeline) embed(ctx context.Context, src Source, seg *segmentation.Output, progress func(int, int)) ([]pair, *chunkSet, error) {
	cfg := p.cfg.Embed
	chunkLen := int64(math.Round(cfg.ChunkSeconds*segmentation.SampleRate/shift)) * shift
	hop := int64(math.Round(cfg.HopSeconds*segmentation.SampleRate/shift)) * shift
	n := seg.NumSamples
	nChunks := 0
	if n >= chunkLen {
		nChunks = int((n-chunkLen)/hop) + 1
	}

	// Which chunks represent which pairs, with what weight.
	var pairs []pair
	needed := make([]bool, nChunks)
	for w, start := range seg.Starts {
		end := min(start+segmentation.WindowSamples, n)
		first := int((start + hop - 1) / hop)
		for k := range segmentation.LocalSpeakers {
			if !speaks(&seg.Active[w], k) {
				continue
			}
			var u []chunkUse
			for c := first; c < nChunks && int64(c)*hop+chunkLen <= end; c++ {
				solo, other := chunkShares(&seg.Active[w], k, int64(c)*hop-start, chunkLen)
				if solo >= cfg.MinSolo && other <= cfg.MaxOther {
					u = append(u, chunkUse{c, float32(solo)})
					needed[c] = true
				}
			}
			pairs = append(pairs, pair{w: w, k: k, clean: len(u) > 0, uses: u})
		}
	}

	vecs, err := p.embedChunks(ctx, src, needed, chunkLen, hop, progress)
	if err != nil {
		return nil, nil, err
	}
	for i := range pairs {
		if len(pairs[i].uses) == 0 {
			continue
		}
		v := make([]float32, embedding.Dim)
		for _, u := range pairs[i].uses {
			for j, x := range vecs[u.chunk] {
				v[j] += u.weight * x
			}
		}
		embedding.Normalize(v)
		pairs[i].vec = v
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
	return pairs, &chunkSet{vecs: vecs, length: chunkLen, hop: hop}, nil
}

// speaks reports whether local speaker k is active anywhere in the window.
func speaks(a *[segmentation.NumFrames][segmentation.LocalSpeakers]bool, k int) bool {
	for f := range a {
		if a[f][k] {
			return true
		}
	}
	return false
}

// chunkShares returns, over the window frames centred inside the chunk at
// offset off (samples from the window start), the share in which k speaks
// alone and the share in which anyone else speaks.
func chunkShares(a *[segmentation.NumFrames][segmentation.LocalSpeakers]bool, k int, off, length int64) (solo, other float64) {
	lo := max(0, int(math.Ceil(float64(off-segmentation.FrameSize/2)/segmentation.FrameStep)))
	hi := min(segmentation.NumFrames, int(math.Ceil(float64(off+length-segmentation.FrameSize/2)/segmentation.FrameStep)))
	if hi <= lo {
		return 0, 1
	}
	var s, o int
	for f := lo; f < hi; f++ {
		others := false
		for j := range segmentation.LocalSpeakers {
			if j != k && a[f][j] {
				others = true
			}
		}
		switch {
		case others:
			o++
		case a[f][k]:
			s++
		}
	}
	total := float64(hi - lo)
	return float64(s) / total, float64(o) / total
}

// embedChunks embeds every needed chunk, batched, and returns unit vectors
// indexed by chunk (nil where not needed).
func (p *Pipeline) embedChunks(ctx context.Context, src Source, needed []bool, chunkLen, hop int64, progress func(int, int)) ([][]float32, error) {
	total := 0
	for _, x := range needed {
		if x {
			total++
		}
	}
	frames := p.fbank.NumFrames(int(chunkLen))
	per := frames * features.NumMelBins
	batch := p.cfg.Embed.Batch
	feats := make([]float32, 0, batch*per)
	samples := make([]float32, chunkLen)
	out := make([][]float32, len(needed))
	var idx []int
	done := 0
	flush := func() error {
		if len(idx) == 0 {
			return nil
		}
		embs, err := p.emb.Embed(feats, len(idx), frames)
		if err != nil {
			return err
		}
		for i, c := range idx {
			v := embs[i*embedding.Dim : (i+1)*embedding.Dim]
			embedding.Normalize(v)
			out[c] = v
		}
		done += len(idx)
		if progress != nil {
			progress(done, total)
		}
		feats, idx = feats[:0], idx[:0]
		return nil
	}
	for c, need := range needed {
		if !need {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := segmentation.ReadPadded(src, samples, int64(c)*hop); err != nil {
			return nil, err
		}
		start := len(feats)
		feats = p.fbank.Compute(samples, feats)
		features.SubtractMean(feats[start:], features.NumMelBins)
		idx = append(idx, c)
		if len(idx) == batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return out, flush()
}

// embedPairSpeech embeds the audio where local speaker k of window w speaks
// alone (or, failing enough of that, at all). It returns nil when there is
// less than MinFallbackSeconds of it.
func (p *Pipeline) embedPairSpeech(src Source, seg *segmentation.Output, w, k int) ([]float32, error) {
	a := &seg.Active[w]
	minSamples := int(p.cfg.Embed.MinFallbackSeconds * segmentation.SampleRate)
	var speech []float32
	for _, soloOnly := range []bool{true, false} {
		speech = speech[:0]
		for f := 0; f < segmentation.NumFrames; {
			if !frameHas(a, f, k, soloOnly) {
				f++
				continue
			}
			g := f
			for g < segmentation.NumFrames && frameHas(a, g, k, soloOnly) {
				g++
			}
			// Frames overlap (991 samples every 270): take the span from the
			// first frame's centre region to the last's.
			from := seg.Starts[w] + int64(f*segmentation.FrameStep+segmentation.FrameSize/2-segmentation.FrameStep/2)
			to := min(seg.Starts[w]+int64(g*segmentation.FrameStep+segmentation.FrameSize/2-segmentation.FrameStep/2), seg.NumSamples)
			if to > from {
				buf := make([]float32, to-from)
				if err := segmentation.ReadPadded(src, buf, from); err != nil {
					return nil, err
				}
				speech = append(speech, buf...)
			}
			f = g
		}
		if len(speech) >= minSamples {
			break
		}
	}
	if len(speech) < minSamples {
		return nil, nil
	}
	v, err := p.EmbedSpeech(speech)
	if errors.Is(err, ErrTooLittleSpeech) {
		return nil, nil
	}
	return v, err
}

func frameHas(a *[segmentation.NumFrames][segmentation.LocalSpeakers]bool, f, k int, soloOnly bool) bool {
	if !a[f][k] {
		return false
	}
	if soloOnly {
		for j := range segmentation.LocalSpeakers {
			if j != k && a[f][j] {
				return false
			}
		}
	}
	return true
}
