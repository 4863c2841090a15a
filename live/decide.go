package live

// decider binarises aggregated activity, a fixed latency behind the audio,
// into events.
type decider struct {
	latency       int64   // samples
	onset, offset float64 // hysteresis (Config.Onset, Config.Offset)
	decided       int64   // first grid cell not yet binarised
	on            []bool  // per global speaker: in a turn by hysteresis
	sent          []bool  // per global speaker: in a turn as sent (on or recovered)
	labels        []string
	numLabels     int // speakers labelled so far, in order of first speech
	// speech says whether a grid cell may hold speech (nil: every cell).
	speech func(cell int64) bool
	// voiced says whether the VAD hears speech in a grid cell (nil: no
	// recovery; recovering).
	voiced func(cell int64) bool
	// silent, when record is set, has a bit set for every decided cell
	// that speech ruled out (for Session.Revise).
	silent []uint64
	record bool
}

// decide binarises grid cells up to (not including) upto, as far as the
// grid holds them, and appends the events they make.
func (d *decider) decide(a *activityGrid, upto int64, events []Event) []Event {
	upto = min(upto, a.end())
	for len(d.on) < len(a.speakers) {
		d.on = append(d.on, false)
		d.sent = append(d.sent, false)
		d.labels = append(d.labels, "")
	}
	for ; d.decided < upto; d.decided++ {
		t := float64(d.decided*gridSamples) / SampleRate
		gate := float32(1)
		if d.speech != nil && !d.speech(d.decided) {
			gate = 0
			d.markSilent(d.decided)
		}
		anyone := false
		for g := range a.speakers {
			x := float64(gate * a.at(g, d.decided))
			d.on[g] = d.on[g] && x >= d.offset || !d.on[g] && x >= d.onset
			anyone = anyone || d.on[g]
		}
		recovered := -1
		if !anyone && gate > 0 {
			recovered = d.recovering(a)
		}
		// Ends first, so that a speaker change at t reads end-then-start.
		for g := range a.speakers {
			if d.sent[g] && !d.on[g] && g != recovered {
				d.sent[g] = false
				events = append(events, Event{Type: End, Speaker: d.labels[g], Time: t})
			}
		}
		for g := range a.speakers {
			if !d.sent[g] && (d.on[g] || g == recovered) {
				d.sent[g] = true
				if d.labels[g] == "" {
					d.labels[g] = label(d.numLabels)
					d.numLabels++
				}
				events = append(events, Event{Type: Start, Speaker: d.labels[g], Time: t})
			}
		}
	}
	return events
}

// recovering returns the speaker whose turn goes on through the cell
// being decided although no speaker reaches the onset there (-1: none):
// the VAD hears speech in the cell, and the most active speaker is the
// one in a turn at the cell before. So a turn is not cut where the
// segmentation's activity dips below the onset inside speech, as the
// offline pipeline gives such frames to the most active speaker
// (diarize/recover.go).
//
// Why only a turn that goes on: the VAD says there is speech, not whose.
// Giving the cell to whichever speaker is most active, as offline does,
// cut more live error (dev at 1 s, means over the chunk phases: 20.35 →
// 19.88 clean, 23.24 → 22.50 phone) but started turns of the wrong or a
// spurious speaker, and cost sim07's live word attribution a word (85.9 →
// 84.4 %); continuing gives 20.02 and 22.75, every phase, both channels
// and the simulations better, and the same attribution. Session.Revise
// does not recover: there it let a spurious speaker's speech pass the
// close revision's one-second floor (sim07 after revisions 93.8 → 90.6 %;
// docs/STREAMING_BENCH.md, "Recovered speech at the decision").
func (d *decider) recovering(a *activityGrid) int {
	if d.voiced == nil || !d.voiced(d.decided) {
		return -1
	}
	best, most := -1, float32(0)
	for g := range a.speakers {
		if x := a.at(g, d.decided); x > most {
			best, most = g, x
		}
	}
	if best < 0 || !d.sent[best] {
		return -1
	}
	return best
}

// markSilent records that the speech gate ruled cell c out (for
// Session.Revise).
func (d *decider) markSilent(c int64) {
	if !d.record {
		return
	}
	for int64(len(d.silent)) <= c/64 {
		d.silent = append(d.silent, 0)
	}
	d.silent[c/64] |= 1 << (c % 64)
}

// finish decides the rest of the total samples' audio and closes every
// open turn at its end.
func (d *decider) finish(a *activityGrid, total int64, events []Event) []Event {
	events = d.decide(a, (total+gridSamples-1)/gridSamples, events)
	end := float64(total) / SampleRate
	for g, sent := range d.sent {
		if sent {
			d.on[g], d.sent[g] = false, false
			events = append(events, Event{Type: End, Speaker: d.labels[g], Time: end})
		}
	}
	return events
}
