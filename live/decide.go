package live

// decider binarises aggregated activity, a fixed latency behind the audio,
// into events.
type decider struct {
	latency       int64   // samples
	onset, offset float64 // hysteresis (Config.Onset, Config.Offset)
	decided       int64   // first grid cell not yet binarised
	on            []bool  // per global speaker: in a turn
	labels        []string
	numLabels     int // speakers labelled so far, in order of first speech
	// speech says whether a grid cell may hold speech (nil: every cell).
	speech func(cell int64) bool
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
		d.labels = append(d.labels, "")
	}
	for ; d.decided < upto; d.decided++ {
		t := float64(d.decided*gridSamples) / SampleRate
		gate := float32(1)
		if d.speech != nil && !d.speech(d.decided) {
			gate = 0
			if d.record {
				for int64(len(d.silent)) <= d.decided/64 {
					d.silent = append(d.silent, 0)
				}
				d.silent[d.decided/64] |= 1 << (d.decided % 64)
			}
		}
		// Ends first, so that a speaker change at t reads end-then-start.
		for g := range a.speakers {
			if d.on[g] && float64(gate*a.at(g, d.decided)) < d.offset {
				d.on[g] = false
				events = append(events, Event{Type: End, Speaker: d.labels[g], Time: t})
			}
		}
		for g := range a.speakers {
			if !d.on[g] && float64(gate*a.at(g, d.decided)) >= d.onset {
				d.on[g] = true
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

// finish decides the rest of the total samples' audio and closes every
// open turn at its end.
func (d *decider) finish(a *activityGrid, total int64, events []Event) []Event {
	events = d.decide(a, (total+gridSamples-1)/gridSamples, events)
	end := float64(total) / SampleRate
	for g, on := range d.on {
		if on {
			d.on[g] = false
			events = append(events, Event{Type: End, Speaker: d.labels[g], Time: end})
		}
	}
	return events
}
