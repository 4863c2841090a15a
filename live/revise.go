package live

import (
	"context"
	"errors"
	"math"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/segmentation"
)

// history is what a revision of the stream needs (WithHistory): per
// processed buffer its embedded local speakers, every embedded chunk, the
// speech gate's verdict per decided cell (decider.silent) and the events
// sent. About 7.5 MB per audio hour on dev (Session.HistoryBytes, measured
// in BENCHMARKS.md): a buffer every 0.5 s with one or two embedded locals
// of ≈ 236 one-byte probabilities, 16 bytes per chunk use and an own-speech
// vector (768 bytes) where a local has no chunk; a 768-byte vector per 2 s
// chunk; a bit per 10 ms cell.
type history struct {
	buffers []bufferRecord
	chunks  [][]float32 // by chunk index; nil: not embedded
	events  []Event
}

// bufferRecord is one processed buffer: it started at sample start and
// ended at end.
type bufferRecord struct {
	start, end int64
	frames     int
	locals     []localRecord
}

// localRecord is one embedded local speaker of a buffer.
type localRecord struct {
	index int
	// vec is the own-speech embedding of a local without chunks (shared
	// with the next buffer's reuse); nil: pooled from uses.
	vec  []float32
	uses []chunkembed.Use
	// probs is its activity per segmentation frame, in 255ths (a step of
	// 0.004 against the 0.5 onset, averaged over the buffers of a cell).
	probs []uint8
}

// WithHistory makes the session keep what Revise needs (history; about
// 7.5 MB per audio hour, HistoryBytes).
func WithHistory() Option {
	return func(o *sessionOptions) { o.history = true }
}

// record adds the processed buffer's embedded locals and new chunks.
func (h *history) record(ch *segmentation.Chunk, locals []local, chunkVecs map[int64][]float32, start, end int64) {
	b := bufferRecord{start: start, end: end, frames: len(ch.Probs)}
	for _, l := range locals {
		if !l.active || l.vec == nil {
			continue
		}
		r := localRecord{index: l.index, uses: l.uses}
		if len(l.uses) == 0 {
			r.vec = l.vec
		}
		r.probs = make([]uint8, len(ch.Probs))
		for f := range ch.Probs {
			r.probs[f] = uint8(math.Round(255 * float64(ch.Probs[f][l.index])))
		}
		b.locals = append(b.locals, r)
		for _, u := range l.uses {
			for int64(len(h.chunks)) <= u.Chunk {
				h.chunks = append(h.chunks, nil)
			}
			h.chunks[u.Chunk] = chunkVecs[u.Chunk]
		}
	}
	h.buffers = append(h.buffers, b)
}

// bytes is the memory the history holds (slice contents, not headers).
func (h *history) bytes() int {
	n := len(h.events)*32 + len(h.chunks)*24
	for _, v := range h.chunks {
		n += 4 * len(v)
	}
	for _, b := range h.buffers {
		n += 40
		for _, l := range b.locals {
			n += 80 + 4*len(l.vec) + 16*len(l.uses) + len(l.probs)
		}
	}
	return n
}

// HistoryBytes is the memory the session's history holds (0 without
// WithHistory).
func (s *Session) HistoryBytes() int {
	if s.history == nil {
		return 0
	}
	return s.history.bytes() + len(s.decider.silent)*8
}

// ErrNoHistory is returned by Revise for a session started without
// WithHistory.
var ErrNoHistory = errors.New("live: session keeps no history (WithHistory)")

// Revise re-diarizes the stream from its history after Flush: the offline
// pipeline's window clustering (clustering.RefineWindows: constrained
// refinement over every buffer's local speakers, chunk labels, the split of
// mixed speakers, a speaker for a local speaker none could take), started
// from the online centroids; each buffer then counts for every cell it
// covers, as a file's windows do, and the result is decided with the
// session's onset, offset and speech gate.
// It returns the events of the whole stream, its speakers carrying the
// labels the session already sent where they share the most time
// (MatchLabels), new ones after them. It stops with ctx's error
// (clustering.RefineWindows).
//
// Why: the online assignment labels a buffer with the centroids of the
// speech heard before it and never revisits it, and a speaker whose chunks
// hold two voices cannot be split once its label is out. Dev DER at 1 s,
// collar 0, means over the chunk phases: live 20.38, revised 17.06
// (offline 13.94; confusion at offline's level); phone copy 23.28 → 19.86
// (BENCHMARKS.md, issue 16). Why not the
// offline agglomeration as the start: a live buffer's local speaker pools
// one or two 2 s chunks, not a 10 s window's many, and neighbouring
// buffers pool the same chunk, so the AHC's threshold and minimum cluster
// size, set for windows, gave 8 speakers for 2 (same place).
func (s *Session) Revise(ctx context.Context) (events []Event, err error) {
	defer s.recoverPanic(&err)
	h := s.history
	if h == nil {
		return nil, ErrNoHistory
	}
	if !s.closed {
		return nil, errors.New("live: Revise before Flush")
	}
	pairs := h.pairs()
	cfg := diarize.DefaultConfig("").Clustering
	cfg.MaxSpeakers = s.cfg.MaxSpeakers
	chunks := h.chunks
	if chunks == nil {
		chunks = [][]float32{}
	}
	start := make([][]float32, len(s.speakers.Centroids))
	for g, c := range s.speakers.Centroids {
		start[g] = append([]float32(nil), c...)
		embedding.Normalize(start[g])
	}
	a, err := clustering.RefineWindows(ctx, pairs, chunks, cfg, start)
	if err != nil {
		return nil, err
	}
	return relabel(s.redecide(a), h.events)
}

// pairs is every recorded buffer's embedded locals as the window
// clustering's pairs: a local's vector pooled from its chunk uses, else its
// own-speech embedding; clean where it has chunks of its own.
func (h *history) pairs() []clustering.Pair {
	var pairs []clustering.Pair
	for w, b := range h.buffers {
		for _, l := range b.locals {
			vec := l.vec
			if vec == nil {
				vec = chunkembed.Pool(l.uses, func(c int64) []float32 { return h.chunks[c] })
			}
			pairs = append(pairs, clustering.Pair{Window: w, Vec: vec, Clean: len(l.uses) > 0})
		}
	}
	return pairs
}

// redecide aggregates every recorded buffer with the assignment's speakers
// over the whole stream and decides it as the session does (same onset,
// offset and speech gate).
func (s *Session) redecide(a *clustering.Assignment) []Event {
	h := s.history
	var grid activityGrid
	grid.grow(a.K, 0)
	i := 0 // the next pair
	for _, b := range h.buffers {
		ch := segmentation.Chunk{Probs: make([][segmentation.LocalSpeakers]float32, b.frames)}
		mapping := []int{-1, -1, -1}
		labels := make([]map[int64]int, segmentation.LocalSpeakers)
		for _, l := range b.locals {
			mapping[l.index] = a.Speaker[i]
			i++
			for f, p := range l.probs {
				ch.Probs[f][l.index] = float32(p) / 255
			}
			if mapping[l.index] < 0 {
				continue
			}
			labels[l.index] = map[int64]int{}
			for _, u := range l.uses {
				if c := a.ChunkSpeaker[u.Chunk]; c >= 0 {
					labels[l.index][u.Chunk] = c
				}
			}
		}
		grid.aggregate(&ch, mapping, labels, s.grid, b.start, b.end, 0)
	}
	d := decider{latency: s.decider.latency, onset: s.decider.onset, offset: s.decider.offset}
	if s.decider.silent != nil {
		silent := s.decider.silent
		d.speech = func(c int64) bool {
			return c/64 >= int64(len(silent)) || silent[c/64]&(1<<(c%64)) == 0
		}
	}
	return d.finish(&grid, s.audio.total, nil)
}

// relabel renames the revised events' speakers to the labels of sent (the
// session's own events) that share the most time with them.
func relabel(revised, sent []Event) ([]Event, error) {
	ra, err := ToAnnotation("", revised)
	if err != nil {
		return nil, err
	}
	la, err := ToAnnotation("", sent)
	if err != nil {
		return nil, err
	}
	names := MatchLabels(la, ra)
	taken := map[string]bool{}
	for _, n := range names {
		taken[n] = true
	}
	for _, l := range la.Labels() {
		taken[l] = true
	}
	next := 0
	out := make([]Event, len(revised))
	for i, e := range revised {
		n, ok := names[e.Speaker]
		for ; !ok; next++ { // only zero-length turns: not in the annotation
			if !taken[label(next)] {
				n, ok = label(next), true
				names[e.Speaker], taken[n] = n, true
			}
		}
		e.Speaker = n
		out[i] = e
	}
	return out, nil
}
