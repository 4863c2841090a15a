package eval

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/internal/testenv"
)

func readOne(t *testing.T, name string) *annotation.Annotation {
	t.Helper()
	as, err := ReadRTTMPath(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Fatalf("%s: want one file id, got %d", name, len(as))
	}
	return as[0]
}

type mdEvalCase struct {
	ref, sys string
	opt      Options
	want     Components
	derPct   float64
}

func readExpected(t *testing.T, dir string) []mdEvalCase {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "scoring_conformance", "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []mdEvalCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if n == 1 {
			continue // header
		}
		if len(fields) != 9 {
			t.Fatalf("expected.tsv line %d: %d fields", n, len(fields))
		}
		num := make([]float64, 0, 6)
		for _, i := range []int{2, 4, 5, 6, 7, 8} {
			x, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				t.Fatalf("expected.tsv line %d: %v", n, err)
			}
			num = append(num, x)
		}
		cases = append(cases, mdEvalCase{
			ref:    fields[0],
			sys:    fields[1],
			opt:    Options{Collar: num[0], SkipOverlap: fields[3] == "excluded"},
			want:   Components{Scored: num[1], Missed: num[2], FalseAlarm: num[3], Confusion: num[4]},
			derPct: num[5],
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// md-eval prints two decimals; a correct implementation rounds to the same.
const mdEvalTolerance = 0.005 + 1e-6

// TestMDEvalConformance reproduces every NIST md-eval result in the dev
// set's scoring_conformance/expected.tsv (computed with the reference's UEM).
func TestMDEvalConformance(t *testing.T) {
	dir := testenv.DevSet(t, filepath.Join("scoring_conformance", "expected.tsv"))
	cases := readExpected(t, dir)
	if len(cases) != 100 {
		t.Fatalf("expected.tsv: want 100 cases, got %d", len(cases))
	}
	for _, c := range cases {
		ref := readOne(t, filepath.Join(dir, c.ref))
		sys := readOne(t, filepath.Join(dir, c.sys))
		uems, err := ReadUEMPath(filepath.Join(dir, strings.TrimSuffix(c.ref, ".rttm")+".uem"), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DER(ref, sys, uems[ref.URI], c.opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			name      string
			got, want float64
		}{
			{"scored", got.Scored, c.want.Scored},
			{"missed", got.Missed, c.want.Missed},
			{"false alarm", got.FalseAlarm, c.want.FalseAlarm},
			{"confusion", got.Confusion, c.want.Confusion},
			{"DER %", 100 * got.DER(), c.derPct},
		} {
			if math.Abs(v.got-v.want) > mdEvalTolerance {
				t.Errorf("%s vs %s %+v: %s = %.4f, md-eval %.2f", c.ref, c.sys, c.opt, v.name, v.got, v.want)
			}
		}
	}
}

// TestScorePathsDevSet scores the dev set's real recordings as directories
// and checks each row against md-eval and the pooled row against the sums.
func TestScorePathsDevSet(t *testing.T) {
	dir := testenv.DevSet(t, filepath.Join("scoring_conformance", "expected.tsv"))
	want := map[string]mdEvalCase{}
	for _, c := range readExpected(t, dir) {
		if strings.HasPrefix(c.ref, "real/") && strings.Contains(c.sys, ".perturbed.") && c.opt == (Options{Collar: 0.25}) {
			want[strings.TrimSuffix(filepath.Base(c.ref), ".rttm")] = c
		}
	}
	rep, err := ScorePaths(filepath.Join(dir, "real"), filepath.Join(dir, "scoring_conformance", "sys"),
		filepath.Join(dir, "real"), Options{Collar: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != len(want) || len(want) != 12 {
		t.Fatalf("scored %d files, want %d (12 real recordings)", len(rep.Files), len(want))
	}
	if len(rep.NoHypothesis) != 0 {
		t.Errorf("files without hypothesis: %v", rep.NoHypothesis)
	}
	// The system directory also holds the simulated recordings.
	if len(rep.NoReference) != 7 {
		t.Errorf("hypotheses without reference: got %v, want the 7 simulations", rep.NoReference)
	}
	var sum Components
	for _, row := range rep.Files {
		c, ok := want[row.URI]
		if !ok {
			t.Fatalf("unexpected file %q", row.URI)
		}
		if math.Abs(row.DERPercent-c.derPct) > mdEvalTolerance || math.Abs(row.DER.Scored-c.want.Scored) > mdEvalTolerance {
			t.Errorf("%s: DER %.4f %% over %.4f s, md-eval %.2f %% over %.2f s", row.URI, row.DERPercent, row.DER.Scored, c.derPct, c.want.Scored)
		}
		if row.JERPercent < 0 || row.JERPercent > 100 {
			t.Errorf("%s: JER %.2f %% outside [0, 100]", row.URI, row.JERPercent)
		}
		sum.Add(row.DER)
	}
	if math.Abs(rep.Pooled.DER.Scored-sum.Scored) > 1e-9 || math.Abs(rep.Pooled.DERPercent-100*sum.DER()) > 1e-9 {
		t.Errorf("pooled %+v, want the sum %+v", rep.Pooled.DER, sum)
	}
}

// jerReference holds JER (%) of each dev recording against its perturbed
// system output (UEM, collar 0, overlap scored), computed independently
// with dscore's definition on 1 ms frames and a brute-force pairing.
var jerReference = map[string]float64{
	"ami_debug_dev00": 39.49, "ami_debug_dev01": 43.29, "ami_debug_trn00": 36.53,
	"ami_debug_trn01": 73.20, "ami_debug_trn02": 83.56, "ami_debug_trn03": 34.09,
	"ami_debug_trn04": 27.71, "ami_seriously_mixture": 23.28, "falcon_test": 29.34,
	"paa_diarizationExample": 8.22, "paa_diarizationExample2": 44.40, "pyannote_sample": 23.90,
	"sim01_2spk": 26.16, "sim02_3spk": 20.91, "sim03_4spk": 28.88, "sim04_5spk": 49.35,
	"sim05_6spk": 36.37, "sim06_digits_3spk": 43.30, "sim07_digits_2spk": 23.37,
}

func TestJERReference(t *testing.T) {
	dir := testenv.DevSet(t, filepath.Join("scoring_conformance", "expected.tsv"))
	for _, sub := range []string{"real", "sim"} {
		rep, err := ScorePaths(filepath.Join(dir, sub), filepath.Join(dir, "scoring_conformance", "sys"),
			filepath.Join(dir, sub), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rep.Files {
			want, ok := jerReference[row.URI]
			if !ok {
				t.Fatalf("unexpected file %q", row.URI)
			}
			if math.Abs(row.JERPercent-want) > mdEvalTolerance {
				t.Errorf("%s: JER %.4f %%, want %.2f %%", row.URI, row.JERPercent, want)
			}
		}
	}
}
