package livetranscribe

import (
	"math"

	"github.com/whospoke/whospoke/live"
)

// timeline is what the live diarizer has said so far: each speaker's
// intervals, the last one open while the speaker is active, and the time up
// to which its decisions are final (they never change once made).
type timeline struct {
	spans   map[string][][2]float64 // an open interval ends at +Inf
	decided float64
}

func newTimeline() *timeline { return &timeline{spans: map[string][][2]float64{}} }

// add records diarizer events (in time order) and the new decided time.
func (t *timeline) add(events []live.Event, decided float64) {
	for _, e := range events {
		sp := t.spans[e.Speaker]
		switch e.Type {
		case live.Start:
			t.spans[e.Speaker] = append(sp, [2]float64{e.Time, math.Inf(1)})
		case live.End:
			if n := len(sp); n > 0 && math.IsInf(sp[n-1][1], 1) {
				sp[n-1][1] = e.Time
			}
		}
	}
	t.decided = max(t.decided, decided)
}

// dropBrief forgets the speakers with less than least seconds of speech in
// all, while a speaker with more remains: their time then counts as
// nobody's, and a word in it takes the nearest speech's speaker.
func (t *timeline) dropBrief(least float64) {
	total := map[string]float64{}
	longest := 0.0
	for spk, spans := range t.spans {
		for _, s := range spans {
			total[spk] += min(s[1], t.decided) - s[0]
		}
		longest = max(longest, total[spk])
	}
	if longest < least {
		return
	}
	for spk, d := range total {
		if d < least {
			delete(t.spans, spk)
		}
	}
}

// overlap is how long each speaker is active inside [a, b], counting only
// decided time.
func (t *timeline) overlap(a, b float64) map[string]float64 {
	b = min(b, t.decided)
	out := map[string]float64{}
	if b <= a {
		return out
	}
	for spk, spans := range t.spans {
		for _, s := range spans {
			if d := min(b, s[1]) - max(a, s[0]); d > 0 {
				out[spk] += d
			}
		}
	}
	return out
}

// dominant is the speaker most active inside [a, b] ("" if nobody).
func (t *timeline) dominant(a, b float64) string {
	best, bestD := "", 0.0
	for spk, d := range t.overlap(a, b) {
		if d > bestD || (d == bestD && spk < best) {
			best, bestD = spk, d
		}
	}
	return best
}

// nearest is the speaker whose speech lies closest to time x, within limit
// seconds ("" if none): for a word the diarizer heard as silence.
func (t *timeline) nearest(x, limit float64) string {
	best, bestD := "", limit
	for spk, spans := range t.spans {
		for _, s := range spans {
			if s[0] > t.decided {
				continue
			}
			d := max(s[0]-x, x-min(s[1], t.decided), 0)
			if d < bestD || (d == bestD && spk < best) {
				best, bestD = spk, d
			}
		}
	}
	return best
}

// wordPad widens a word's span for attribution: Whisper's word times are off
// by about a tenth of a second (BENCHMARKS.md), and a short word needs
// enough span to overlap its speaker's turn.
const wordPad = 0.1

// speakerOf attributes the span [a, b] of a word: the speaker most active in
// it (overlap-aware), else the nearest speech within a second. provisional
// means the diarizer has not decided the whole span yet, so the answer may
// change (then the turn is revised).
func (t *timeline) speakerOf(a, b float64) (spk string, provisional bool) {
	a, b = a-wordPad, b+wordPad
	provisional = b > t.decided
	if spk = t.dominant(a, b); spk != "" {
		return spk, provisional
	}
	if provisional {
		// Nothing decided inside the word yet: the speaker active at the
		// decided edge most likely goes on speaking.
		return t.nearest(t.decided, math.Inf(1)), true
	}
	return t.nearest((a+b)/2, 1), false
}
