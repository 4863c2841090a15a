package eval

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/whospoke/whospoke/annotation"
)

// PooledURI names the pooled row, as md-eval names its summary.
const PooledURI = "ALL"

// Row is the score of one file, or of all files pooled.
type Row struct {
	URI        string        `json:"uri"`
	DER        Components    `json:"der"`
	DERPercent float64       `json:"der_percent"`
	JER        JERComponents `json:"jer"`
	JERPercent float64       `json:"jer_percent"`
}

func newRow(uri string, der Components, jer JERComponents) Row {
	return Row{URI: uri, DER: der, DERPercent: 100 * der.DER(), JER: jer, JERPercent: 100 * jer.JER()}
}

// Report holds per-file rows (sorted by file id) and the pooled row.
type Report struct {
	Options Options `json:"options"`
	Files   []Row   `json:"files"`
	Pooled  Row     `json:"pooled"`
	// NoHypothesis lists reference files the hypothesis lacks; they are
	// scored as entirely missed.
	NoHypothesis []string `json:"no_hypothesis,omitempty"`
	// NoReference lists hypothesis files without a reference; like md-eval,
	// Score ignores them.
	NoReference []string `json:"no_reference,omitempty"`
}

// Score scores every reference file against the hypothesis with the same
// file id (RTTM uri) and pools the results. Annotations sharing a uri are
// merged, as md-eval merges RTTM lines of one file. uems maps uri to the
// evaluated region; a file missing from it gets md-eval's default, the span
// of its reference turns.
func Score(refs, hyps []*annotation.Annotation, uems map[string]annotation.Timeline, opt Options) (Report, error) {
	rep := Report{Options: opt}
	if err := opt.validate(); err != nil {
		return rep, err
	}
	refByURI, hypByURI := byURI(refs), byURI(hyps)
	var pooledDER Components
	var pooledJER JERComponents
	for _, uri := range sortedKeys(refByURI) {
		hyp, ok := hypByURI[uri]
		if !ok {
			rep.NoHypothesis = append(rep.NoHypothesis, uri)
		}
		uem := uems[uri]
		if err := validate(refByURI[uri], hyp, uem, opt); err != nil {
			return rep, err
		}
		r := prepare(refByURI[uri], hyp, uem, opt)
		row := newRow(uri, r.der(), r.jer())
		rep.Files = append(rep.Files, row)
		pooledDER.Add(row.DER)
		pooledJER.Add(row.JER)
	}
	for _, uri := range sortedKeys(hypByURI) {
		if _, ok := refByURI[uri]; !ok {
			rep.NoReference = append(rep.NoReference, uri)
		}
	}
	rep.Pooled = newRow(PooledURI, pooledDER, pooledJER)
	return rep, nil
}

func byURI(as []*annotation.Annotation) map[string]*annotation.Annotation {
	out := map[string]*annotation.Annotation{}
	for _, a := range as {
		if a == nil {
			continue
		}
		// A copy, so merging never touches the caller's annotations.
		m, ok := out[a.URI]
		if !ok {
			m = &annotation.Annotation{URI: a.URI}
			out[a.URI] = m
		}
		m.Turns = append(m.Turns, a.Turns...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteTable prints the report as a plain-text table: seconds of scored
// speaker time, missed, false alarm and confusion, the same as percentages,
// then DER and JER in percent; the pooled row comes last.
func WriteTable(w io.Writer, rep Report) error {
	overlap := "overlap scored"
	if rep.Options.SkipOverlap {
		overlap = "overlap excluded"
	}
	table := [][]string{{"file", "scored s", "missed s", "fa s", "conf s", "missed %", "fa %", "conf %", "DER %", "JER %"}}
	for _, row := range append(slices.Clip(rep.Files), rep.Pooled) {
		d := row.DER
		cells := []string{row.URI}
		for _, v := range []float64{d.Scored, d.Missed, d.FalseAlarm, d.Confusion,
			percent(d.Missed, d.Scored), percent(d.FalseAlarm, d.Scored), percent(d.Confusion, d.Scored),
			row.DERPercent, row.JERPercent} {
			cells = append(cells, strconv.FormatFloat(v, 'f', 2, 64))
		}
		table = append(table, cells)
	}
	width := make([]int, len(table[0]))
	for _, cells := range table {
		for i, c := range cells {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	bw := bufio.NewWriter(w)
	for _, cells := range table {
		// File ids flush left, numbers flush right.
		fmt.Fprintf(bw, "%-*s", width[0], cells[0])
		for i, c := range cells[1:] {
			fmt.Fprintf(bw, "  %*s", width[i+1], c)
		}
		bw.WriteByte('\n')
	}
	fmt.Fprintf(bw, "collar %g s, %s, %d files\n", rep.Options.Collar, overlap, len(rep.Files))
	return bw.Flush()
}

func percent(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}
