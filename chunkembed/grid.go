package chunkembed

import (
	"math"

	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/segmentation"
)

// Activity is one window's or buffer's local speaker activity, frame by
// frame (segmentation's hard decisions; frame f is centred at
// f·FrameStep + FrameSize/2 samples from its start).
type Activity = [][segmentation.LocalSpeakers]bool

// Grid is the chunk grid in samples: chunk c covers [c·Hop, c·Hop+Length)
// of the audio; MinSolo and MaxOther decide which chunks represent whom.
type Grid struct {
	Length, Hop       int64
	MinSolo, MaxOther float64
}

// Use is one chunk pooled into a local speaker's embedding, with its weight
// (the share of the chunk in which the speaker speaks alone).
type Use struct {
	Chunk  int64
	Weight float32
}

// Start returns the first sample of chunk c.
func (g Grid) Start(c int64) int64 { return c * g.Hop }

// Holds reports whether chunk c covers sample x.
func (g Grid) Holds(c, x int64) bool { return x >= c*g.Hop && x < c*g.Hop+g.Length }

// Uses returns the chunks wholly inside [max(start, 0), end) that represent
// local speaker k of the window or buffer starting at sample start: those
// where k speaks alone in at least MinSolo of the frames and others in at
// most MaxOther. The chunks come in time order.
func (g Grid) Uses(a Activity, k int, start, end int64) []Use {
	var out []Use
	for c := (max(start, 0) + g.Hop - 1) / g.Hop; c*g.Hop+g.Length <= end; c++ {
		solo, other := ChunkShares(a, k, c*g.Hop-start, g.Length)
		if solo >= g.MinSolo && other <= g.MaxOther {
			out = append(out, Use{c, float32(solo)})
		}
	}
	return out
}

// ChunkShares returns, over the frames centred inside the chunk at offset
// off (samples from the window start) and length long, the share in which
// k speaks alone and the share in which anyone else speaks.
func ChunkShares(a Activity, k int, off, length int64) (solo, other float64) {
	lo := max(0, int(math.Ceil(float64(off-segmentation.FrameSize/2)/segmentation.FrameStep)))
	hi := min(len(a), int(math.Ceil(float64(off+length-segmentation.FrameSize/2)/segmentation.FrameStep)))
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

// Pool returns the unit weighted sum of the chunks' vectors (vec returns
// chunk c's unit embedding).
func Pool(uses []Use, vec func(c int64) []float32) []float32 {
	v := make([]float32, embedding.Dim)
	for _, u := range uses {
		for j, x := range vec(u.Chunk) {
			v[j] += u.Weight * x
		}
	}
	embedding.Normalize(v)
	return v
}

// Speaks reports whether local speaker k is active in any frame.
func Speaks(a Activity, k int) bool {
	for f := range a {
		if a[f][k] {
			return true
		}
	}
	return false
}

// FrameHas reports whether local speaker k speaks in a frame with these
// decisions, and (soloOnly) nobody else does.
func FrameHas(frame [segmentation.LocalSpeakers]bool, k int, soloOnly bool) bool {
	if !frame[k] {
		return false
	}
	if soloOnly {
		for j := range frame {
			if j != k && frame[j] {
				return false
			}
		}
	}
	return true
}

// OwnSpeech chooses which of a local speaker's own speech embeds it when no
// chunk does: where it speaks alone or, if collect(true) finds less than
// least of that, wherever it speaks. collect gathers the speech of one kind
// and returns how much it found; OwnSpeech returns whether the solo speech
// was chosen and whether the last gathered speech reaches least.
func OwnSpeech(least int, collect func(soloOnly bool) int) (solo, enough bool) {
	for _, soloOnly := range []bool{true, false} {
		if collect(soloOnly) >= least {
			return soloOnly, true
		}
	}
	return false, false
}
