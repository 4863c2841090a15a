package live

import (
	"github.com/whospoke/whospoke/features"
)

// audioBuffer holds a stream's recent samples and their fbank frames: only
// what the next buffers need is kept.
type audioBuffer struct {
	samples []float32 // the stream's samples from global index base on
	base    int64
	total   int64 // samples pushed so far

	// feats caches fbank frames (global frame j starts at sample 160j) from
	// frame featBase on, so each frame is computed once, not once per buffer.
	feats    []float32
	featBase int64
	featNext int64 // the first frame not computed yet
}

// push appends samples.
func (b *audioBuffer) push(samples []float32) {
	b.samples = append(b.samples, samples...)
	b.total += int64(len(samples))
}

// window returns samples [start, end) of the stream, zero before its start
// (so the first decisions need not wait for a full buffer).
func (b *audioBuffer) window(start, end int64) []float32 {
	buf := make([]float32, end-start)
	from := max(start, b.base)
	copy(buf[from-start:], b.samples[from-b.base:end-b.base])
	return buf
}

// computeFeats extends the fbank cache with every frame that fits in the
// audio up to end.
func (b *audioBuffer) computeFeats(fbank *features.Fbank, end int64) {
	last := (end - features.FrameLength) / features.FrameShift // last frame that fits
	if last < b.featNext {
		return
	}
	from := b.featNext * features.FrameShift
	to := last*features.FrameShift + features.FrameLength
	b.feats = fbank.Compute(b.samples[from-b.base:to-b.base], b.feats)
	b.featNext = last + 1
}

// frame returns the cached fbank frames [from, to).
func (b *audioBuffer) frames(from, to int64) []float32 {
	return b.feats[(from-b.featBase)*features.NumMelBins : (to-b.featBase)*features.NumMelBins]
}

// trim drops the samples before keepFrom and the frames before frameFrom,
// once they are at least half of what is held (so dropping stays cheap).
func (b *audioBuffer) trim(keepFrom, frameFrom int64) {
	if drop := keepFrom - b.base; drop > int64(len(b.samples))/2 && drop > 0 {
		b.samples = append(b.samples[:0], b.samples[drop:]...)
		b.base += drop
	}
	if drop := frameFrom - b.featBase; drop > int64(len(b.feats)/features.NumMelBins)/2 && drop > 0 {
		b.feats = append(b.feats[:0], b.feats[drop*features.NumMelBins:]...)
		b.featBase += drop
	}
}

// release frees the memory of a finished stream.
func (b *audioBuffer) release() { b.samples, b.feats = nil, nil }
