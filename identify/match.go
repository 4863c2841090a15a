package identify

import (
	"fmt"
	"math"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/embedding"
	"github.com/whospoke/whospoke/internal/assignment"
)

// Calibration: confidence = 100 / (1 + exp(−calibSlope·(cosine − calibCenter))).
// Measured on the dev voiceprint protocol (26 enrolled, 61 test, 11 impostor
// files) with
//
//	WHOSPOKE_CALIBRATE=1 go test ./identify/ -run Calibrate -v -timeout 30m
//
// calibCenter is the equal-error threshold of Voiceprint() enrolment ×
// SpeakerEmbeddings test vectors (EER 0.03 % at cosine 0.611, halfway between
// the non-target 95th percentile 0.485 and the target 5th percentile 0.740).
// calibSlope maps the target median 0.867 and non-target median 0.368 to
// about 96 and 5 (ln 19 over half the gap between the medians gives 11.8): the
// likelihood fit is far steeper (nearly separable scores) and would squash
// every confidence to 0 or 100, leaving no threshold to tune.
const (
	calibCenter = 0.611
	calibSlope  = 12.0
)

// Confidence maps the cosine of two voice vectors to 0–100 (see
// docs/IDENTIFICATION.md): 50 sits at the dev protocol's equal-error point.
func Confidence(cosine float64) float64 {
	return 100 / (1 + math.Exp(-calibSlope*(cosine-calibCenter)))
}

// roundConf rounds confidences to whole numbers, as pyannoteAI shows them;
// thresholds are compared with the rounded value the client sees.
func roundConf(c float64) float64 { return math.Round(c) }

// Enrolled is one decoded voiceprint of an identify request.
type Enrolled struct {
	Label string
	Vec   []float32
}

// DecodeInputs decodes the voiceprints of an identify request. Errors name
// the item (voiceprints[i]) and wrap ErrMalformed or ErrOtherModel.
func DecodeInputs(in []api.VoiceprintInput) ([]Enrolled, error) {
	out := make([]Enrolled, len(in))
	for i, vp := range in {
		v, err := Decode(vp.Voiceprint)
		if err != nil {
			return nil, fmt.Errorf("voiceprints[%d]: %w", i, err)
		}
		out[i] = Enrolled{Label: vp.Label, Vec: v}
	}
	return out, nil
}

// Match scores every diarized speaker (in the given order) against every
// label and decides the matches. Several voiceprints under one label are
// averaged into one (enrolment from several recordings). With exclusive, the
// speakers and labels are paired one to one maximising the summed cosine
// (the sum of calibrated log-odds), so no label names two speakers; speakers
// beyond the number of labels stay unmatched. A pairing becomes a match only
// when its confidence reaches threshold, so threshold 0 matches every
// speaker that has a candidate. Speakers without an embedding (too little
// speech) get confidence 0 for every label and no match.
func Match(speakers map[string][]float32, order []string, prints []Enrolled, exclusive bool, threshold float64) []api.SpeakerMatch {
	labels, vecs := merge(prints)
	cos := make([][]float64, len(order))
	out := make([]api.SpeakerMatch, len(order))
	for i, s := range order {
		out[i] = api.SpeakerMatch{Speaker: s, Confidence: map[string]float64{}}
		cos[i] = make([]float64, len(labels))
		v, ok := speakers[s]
		for j, l := range labels {
			if !ok {
				cos[i][j] = math.Inf(-1)
				out[i].Confidence[l] = 0
				continue
			}
			cos[i][j] = embedding.Cosine(v, vecs[j])
			out[i].Confidence[l] = roundConf(Confidence(cos[i][j]))
		}
	}
	if len(labels) == 0 || len(order) == 0 {
		return out
	}

	pick := make([]int, len(order))
	if exclusive {
		cost := make([][]float64, len(order))
		for i := range cos {
			cost[i] = make([]float64, len(labels))
			for j, c := range cos[i] {
				// A speaker without a vector costs the same (and more
				// than any real pair) for every label, so it only takes a
				// label no real candidate wants, and never matches.
				cost[i][j] = -math.Max(c, -2)
			}
		}
		pick = assignment.Minimize(cost)
	} else {
		for i := range cos {
			pick[i] = 0
			for j := range cos[i] {
				if cos[i][j] > cos[i][pick[i]] {
					pick[i] = j
				}
			}
		}
	}
	for i, j := range pick {
		if j < 0 || math.IsInf(cos[i][j], -1) {
			continue
		}
		if l := labels[j]; out[i].Confidence[l] >= threshold {
			out[i].Match = &l
		}
	}
	return out
}

// merge groups voiceprints by label, keeping first-appearance order, and
// averages each group's vectors (as the dev protocol averages enrolment files).
func merge(prints []Enrolled) ([]string, [][]float32) {
	var labels []string
	var vecs [][]float32
	index := map[string]int{}
	for _, p := range prints {
		j, ok := index[p.Label]
		if !ok {
			j = len(labels)
			index[p.Label] = j
			labels = append(labels, p.Label)
			vecs = append(vecs, make([]float32, len(p.Vec)))
		}
		for k, x := range p.Vec {
			if k < len(vecs[j]) {
				vecs[j][k] += x
			}
		}
	}
	for _, v := range vecs {
		embedding.Normalize(v)
	}
	return labels, vecs
}

// Output builds the identification turns from the regular (overlapping)
// diarization, as pyannoteAI's identify output does: each turn keeps its
// diarization label in diarizationSpeaker and is renamed to the matched
// voiceprint label when its speaker matched one. Times are rounded to
// milliseconds like the diarization output.
func Output(res *diarize.Result, matches []api.SpeakerMatch) []api.IdentifiedTurn {
	matched := map[string]*string{}
	for _, m := range matches {
		matched[m.Speaker] = m.Match
	}
	out := []api.IdentifiedTurn{}
	if res == nil || res.Diarization == nil {
		return out
	}
	for _, t := range res.Diarization.Turns {
		if t.Empty() {
			continue
		}
		it := api.IdentifiedTurn{Speaker: t.Speaker, Start: annotation.Millis(t.Start), End: annotation.Millis(t.End), DiarizationSpeaker: t.Speaker}
		if m := matched[t.Speaker]; m != nil {
			l := *m
			it.Speaker, it.Match = l, &l
		}
		out = append(out, it)
	}
	return out
}
