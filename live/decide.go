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
	// recovery); a voiced cell no speaker reaches is given the most active
	// one (recovered).
	voiced func(cell int64) bool
	// silent and voicedCells, when record is set, have a bit set for every
	// decided cell that speech ruled out, or that voiced held to be speech
	// (for Session.Revise).
	silent, voicedCells []uint64
	record              bool
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
			d.mark(&d.silent, d.decided)
		}
		voiced := d.voiced != nil && d.voiced(d.decided)
		if voiced {
			d.mark(&d.voicedCells, d.decided)
		}
		anyone := false
		for g := range a.speakers {
			x := float64(gate * a.at(g, d.decided))
			d.on[g] = d.on[g] && x >= d.offset || !d.on[g] && x >= d.onset
			anyone = anyone || d.on[g]
		}
		recovered := -1
		if !anyone && gate > 0 && voiced {
			recovered = d.mostActive(a)
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

// mostActive returns the speaker with the largest activity in the cell
// being decided (-1: none above 0): where the segmentation leaves speech
// that the VAD hears below every speaker's onset, that speaker gets it, as
// the offline pipeline's frames do (diarize/recover.go). Dev at 1 s, means
// over the chunk phases: missed speech 73.5 → 66.0 s clean and 95.1 →
// 83.7 s on the phone copy, DER 20.35 → 19.88 and 23.24 → 22.50, both
// halves and the simulations better (docs/STREAMING_BENCH.md, "Recovered
// speech at the decision").
func (d *decider) mostActive(a *activityGrid) int {
	best, most := -1, float32(0)
	for g := range a.speakers {
		if x := a.at(g, d.decided); x > most {
			best, most = g, x
		}
	}
	return best
}

// mark sets cell c's bit in bits when the decider records (for
// Session.Revise).
func (d *decider) mark(bits *[]uint64, c int64) {
	if !d.record {
		return
	}
	for int64(len(*bits)) <= c/64 {
		*bits = append(*bits, 0)
	}
	(*bits)[c/64] |= 1 << (c % 64)
}

// bitSet reports whether cell c's bit is set in bits.
func bitSet(bits []uint64, c int64) bool {
	return c/64 < int64(len(bits)) && bits[c/64]&(1<<(c%64)) != 0
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
