package eval

import "github.com/whospoke/whospoke/annotation"

// JERComponents hold what JER needs for pooling: JER is the mean over
// reference speakers of each speaker's Jaccard error, so files pool by
// summing errors and speaker counts (dscore's global JER).
type JERComponents struct {
	RefSpeakers int     `json:"ref_speakers"` // reference speakers with scored speech
	HypSpeakers int     `json:"hyp_speakers"` // hypothesis speakers with scored speech
	Error       float64 `json:"error"`        // sum of per-reference-speaker Jaccard errors, each in [0, 1]
}

// Add pools o into j.
func (j *JERComponents) Add(o JERComponents) {
	j.RefSpeakers += o.RefSpeakers
	j.HypSpeakers += o.HypSpeakers
	j.Error += o.Error
}

// JER is the mean per-speaker Jaccard error as a fraction. Without reference
// speakers it is 1 if the hypothesis speaks and 0 otherwise, as in dscore.
func (j JERComponents) JER() float64 {
	if j.RefSpeakers == 0 {
		if j.HypSpeakers > 0 {
			return 1
		}
		return 0
	}
	return j.Error / float64(j.RefSpeakers)
}

// JER scores hyp against ref with the Jaccard error rate of DIHARD's dscore:
// reference and hypothesis speakers are paired one-to-one (Hungarian
// algorithm) to maximise the summed Jaccard index |R∩H| / |R∪H| of the pairs;
// a paired reference speaker's error is 1 minus that index, an unpaired one's
// is 1. Unpaired hypothesis speakers cost nothing, so JER never exceeds 100 %.
// Times are measured over the same scored region as DER (uem, collar,
// overlap); dscore itself ignores collars for JER, so the two agree at
// collar 0 with overlap scored.
func JER(ref, hyp *annotation.Annotation, uem annotation.Timeline, opt Options) (JERComponents, error) {
	if err := validate(ref, hyp, uem, opt); err != nil {
		return JERComponents{}, err
	}
	return prepare(ref, hyp, uem, opt).jer(), nil
}

func (r *recording) jer() JERComponents {
	refDur := make([]float64, len(r.ref.labels))
	hypDur := make([]float64, len(r.hyp.labels))
	both := make([][]float64, len(r.ref.labels))
	for i := range both {
		both[i] = make([]float64, len(r.hyp.labels))
	}
	sweep(r.scored, r.ref, r.hyp, func(seg annotation.Segment, ref, hyp *activeSet) {
		d := seg.Duration()
		for _, i := range ref.list {
			refDur[i] += d
			for _, j := range hyp.list {
				both[i][j] += d
			}
		}
		for _, j := range hyp.list {
			hypDur[j] += d
		}
	})

	// Only speakers heard in the scored region count, so a speaker lost
	// entirely to collars is neither an error nor a free pass.
	var refs, hyps []int
	for i, d := range refDur {
		if d > 0 {
			refs = append(refs, i)
		}
	}
	for j, d := range hypDur {
		if d > 0 {
			hyps = append(hyps, j)
		}
	}
	jaccard := make([][]float64, len(refs))
	for a, i := range refs {
		jaccard[a] = make([]float64, len(hyps))
		for b, j := range hyps {
			jaccard[a][b] = both[i][j] / (refDur[i] + hypDur[j] - both[i][j])
		}
	}
	out := JERComponents{RefSpeakers: len(refs), HypSpeakers: len(hyps)}
	for a, b := range maxWeightMatching(jaccard) {
		if b < 0 {
			out.Error++
		} else {
			out.Error += 1 - jaccard[a][b]
		}
	}
	return out
}
