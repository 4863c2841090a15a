package output

import (
	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
)

// JSONOptions selects the optional parts of the pyannoteAI output, mirroring
// the DiarizeRequest flags of the same names.
type JSONOptions struct {
	Exclusive           bool // add exclusiveDiarization
	Confidence          bool // add confidence {score, resolution}
	TurnLevelConfidence bool // add a speaker→confidence map to each diarization turn
}

// JSON builds the pyannoteAI diarize output for res. Times are rounded to
// milliseconds, the precision RTTM and the hosted service use.
func JSON(res *diarize.Result, opt JSONOptions) api.DiarizeOutput {
	var turnConf []map[string]float64
	if opt.TurnLevelConfidence {
		turnConf = res.TurnConfidence
	}
	out := api.DiarizeOutput{Diarization: turns(res.Diarization, turnConf)}
	if opt.Exclusive {
		out.ExclusiveDiarization = turns(res.Exclusive, nil)
	}
	if opt.Confidence {
		score := res.Confidence
		if score == nil {
			score = []float64{}
		}
		out.Confidence = &api.Confidence{Score: score, Resolution: diarize.ConfidenceResolution}
	}
	return out
}

// turns converts an annotation to wire turns, attaching conf[i] to turn i
// when given. Never nil, so "diarization" is a JSON array even without speech.
func turns(a *annotation.Annotation, conf []map[string]float64) []api.Turn {
	out := []api.Turn{}
	if a == nil {
		return out
	}
	for i, t := range a.Turns {
		if t.Empty() {
			continue
		}
		wt := api.Turn{Speaker: t.Speaker, Start: annotation.Millis(t.Start), End: annotation.Millis(t.End)}
		if i < len(conf) {
			wt.Confidence = conf[i]
		}
		out = append(out, wt)
	}
	return out
}
