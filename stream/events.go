package stream

import (
	"fmt"
	"math"

	"github.com/whospoke/whospoke/annotation"
)

// EventType says whether a speaker started or stopped.
type EventType int

// The event types, as the Live API names them.
const (
	Start EventType = iota + 1
	End
)

func (t EventType) String() string {
	switch t {
	case Start:
		return "diarization_speaker_start"
	case End:
		return "diarization_speaker_end"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one speaker starting or stopping at Time seconds of audio from
// the stream start. Speakers are labelled SPEAKER_00, SPEAKER_01, … in order
// of first speech, stable for the session.
type Event struct {
	Type    EventType
	Speaker string
	Time    float64
}

func label(i int) string { return annotation.SpeakerLabel(i) }

// CheckEvents verifies the invariants of a finished stream's events for
// duration seconds of audio: times within the audio and non-decreasing per
// speaker, no end without a start, no second start of an active speaker,
// and (complete) every start closed by exactly one end.
func CheckEvents(events []Event, duration float64, complete bool) error {
	on := map[string]bool{}
	last := map[string]float64{}
	for i, e := range events {
		if math.IsNaN(e.Time) || e.Time < 0 || e.Time > duration+1e-9 {
			return fmt.Errorf("event %d %+v: time outside the audio (0..%.3f)", i, e, duration)
		}
		if t, ok := last[e.Speaker]; ok && e.Time < t {
			return fmt.Errorf("event %d %+v: time goes back (was %.3f)", i, e, t)
		}
		last[e.Speaker] = e.Time
		switch e.Type {
		case Start:
			if on[e.Speaker] {
				return fmt.Errorf("event %d %+v: speaker already active", i, e)
			}
			on[e.Speaker] = true
		case End:
			if !on[e.Speaker] {
				return fmt.Errorf("event %d %+v: end without a start", i, e)
			}
			on[e.Speaker] = false
		default:
			return fmt.Errorf("event %d: bad type %d", i, e.Type)
		}
	}
	if complete {
		for spk, o := range on {
			if o {
				return fmt.Errorf("speaker %s never ended", spk)
			}
		}
	}
	return nil
}

// ToAnnotation turns a complete event list into turns (for scoring and
// RTTM). Zero-length turns are dropped.
func ToAnnotation(uri string, events []Event) (*annotation.Annotation, error) {
	if err := CheckEvents(events, math.Inf(1), true); err != nil {
		return nil, err
	}
	a := &annotation.Annotation{URI: uri}
	open := map[string]float64{}
	for _, e := range events {
		if e.Type == Start {
			open[e.Speaker] = e.Time
			continue
		}
		if s := open[e.Speaker]; e.Time > s {
			a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: s, End: e.Time}, Speaker: e.Speaker})
		}
		delete(open, e.Speaker)
	}
	a.Sort()
	return a, nil
}
