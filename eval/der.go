// Package eval scores speaker diarization against a reference: diarization
// error rate (DER) exactly as NIST md-eval computes it, and Jaccard error rate
// (JER) as DIHARD's dscore defines it, per file and pooled over many files.
package eval

import (
	"fmt"
	"math"

	"github.com/whospoke/whospoke/annotation"
)

// Options selects which time is scored.
type Options struct {
	// Collar is the half-width in seconds of the no-score zone around every
	// reference turn boundary (md-eval -c). Zero scores every boundary.
	Collar float64 `json:"collar"`
	// SkipOverlap leaves out regions where two or more reference speakers
	// talk at once (md-eval -1).
	SkipOverlap bool `json:"skip_overlap"`
}

func (o Options) validate() error {
	if !(o.Collar >= 0) || math.IsInf(o.Collar, 1) {
		return fmt.Errorf("eval: collar must be a finite number of seconds >= 0, got %v", o.Collar)
	}
	return nil
}

// Components are the times, in seconds, that make up DER. Like md-eval's
// "speaker time" they count each speaker: two overlapping reference speakers
// add two seconds of scored time per second.
type Components struct {
	Scored     float64 `json:"scored"`      // reference speaker time
	Missed     float64 `json:"missed"`      // reference speakers without a hypothesis speaker
	FalseAlarm float64 `json:"false_alarm"` // hypothesis speakers beyond the reference count
	Confusion  float64 `json:"confusion"`   // matched time given to the wrong speaker
}

// Add pools o into c; the pooled DER of many files is the DER of the sums.
func (c *Components) Add(o Components) {
	c.Scored += o.Scored
	c.Missed += o.Missed
	c.FalseAlarm += o.FalseAlarm
	c.Confusion += o.Confusion
}

// DER is (missed + false alarm + confusion) / scored as a fraction (0.1 is
// 10 %). With nothing scored it is 0 when there is no error and 1 otherwise,
// dscore's convention, so a row never holds an infinity.
func (c Components) DER() float64 {
	errs := c.Missed + c.FalseAlarm + c.Confusion
	if c.Scored == 0 {
		if errs > 0 {
			return 1
		}
		return 0
	}
	return errs / c.Scored
}

// DER scores hyp against ref as md-eval does. uem is the evaluated region
// (overlapping regions are merged); nil means md-eval's default, the span of
// the reference turns. Speakers are
// mapped one-to-one so that their overlap over the whole evaluated region is
// maximal (collars and overlap are removed only after mapping, as md-eval
// does); errors are then counted over the scored region. A nil hyp is an
// empty one.
func DER(ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) (Components, error) {
	if err := validate(ref, hyp, uem, opt); err != nil {
		return Components{}, err
	}
	return prepare(ref, hyp, uem, opt).der(), nil
}

func (r *recording) der() Components {
	mapped := r.mapping()
	var c Components
	sweep(r.scored, r.ref, r.hyp, func(seg annotation.Segment, ref, hyp *activeSet) {
		d := seg.Duration()
		nref, nhyp := len(ref.list), len(hyp.list)
		correct := 0
		for _, s := range ref.list {
			if hyp.has(mapped[s]) {
				correct++
			}
		}
		c.Scored += d * float64(nref)
		c.Missed += d * float64(max(nref-nhyp, 0))
		c.FalseAlarm += d * float64(max(nhyp-nref, 0))
		c.Confusion += d * float64(min(nref, nhyp)-correct)
	})
	return c
}

// mapping gives each reference speaker its hypothesis speaker (or -1),
// maximising total overlap over the evaluated region.
func (r *recording) mapping() []int {
	overlap := make([][]float64, len(r.ref.labels))
	for i := range overlap {
		overlap[i] = make([]float64, len(r.hyp.labels))
	}
	sweep(r.evaluated, r.ref, r.hyp, func(seg annotation.Segment, ref, hyp *activeSet) {
		d := seg.Duration()
		for _, i := range ref.list {
			for _, j := range hyp.list {
				overlap[i][j] += d
			}
		}
	})
	return maxWeightMatching(overlap)
}

// validate rejects input whose times would make sums meaningless.
func validate(ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) error {
	if err := opt.validate(); err != nil {
		return err
	}
	for _, a := range []*annotation.Annotation{ref, hyp} {
		if a == nil {
			continue
		}
		for _, t := range a.Turns {
			if !finite(t.Start) || !finite(t.End) {
				return fmt.Errorf("eval: %s: turn of %s has a non-finite time %v", a.URI, t.Speaker, t.Segment)
			}
		}
	}
	for _, s := range uem {
		if !finite(s.Start) || !finite(s.End) {
			return fmt.Errorf("eval: UEM region %v has a non-finite time", s)
		}
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
