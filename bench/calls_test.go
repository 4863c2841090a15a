package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/eval"
)

const devSet = "../../shared/eval/dev"

func TestSpeechRuns(t *testing.T) {
	// 0.5 s of faint noise, 1 s of tone, a 0.2 s pause, 1 s of tone, a
	// 0.5 s pause, 0.5 s of tone and 0.5 s of faint noise.
	var x []float32
	add := func(sec, amp float64) {
		for i := range int(sec * audio.SampleRate) {
			v := amp * math.Sin(2*math.Pi*200*float64(i)/audio.SampleRate)
			if amp == 0 {
				v = 1e-4 * math.Sin(float64(i)*1.7) // noise-like, far below the tone
			}
			x = append(x, float32(v))
		}
	}
	for _, s := range [][2]float64{{0.5, 0}, {1, 0.3}, {0.2, 0}, {1, 0.3}, {0.5, 0}, {0.5, 0.3}, {0.5, 0}} {
		add(s[0], s[1])
	}
	db := frameDB(x)
	got := speechRuns(db, speechThreshold(db), 0, len(db))
	want := [][2]int{{50, 270}, {320, 370}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("runs %v, want %v (the 0.2 s pause bridged, the 0.5 s one not)", got, want)
	}
	// Runs never leave the frames asked about.
	if got := speechRuns(db, speechThreshold(db), 100, 330); len(got) != 2 || got[0] != [2]int{100, 270} || got[1] != [2]int{320, 330} {
		t.Errorf("runs of frames [100, 330): %v", got)
	}
}

// TestSpeechAgreesWithSim checks the detector against an annotation made
// independently with the same convention: the speech intervals the dev
// set's simulator recorded for every LibriSpeech source it placed.
func TestSpeechAgreesWithSim(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(devSet, "sim", "sim0[1-5]*.json"))
	if len(files) == 0 {
		t.Skip("dev set not found")
	}
	var speech, missed, extra float64
	for _, f := range files {
		var sim struct {
			Placements []struct {
				Source string       `json:"source_path"`
				Start  float64      `json:"source_start"`
				End    float64      `json:"source_end"`
				Speech [][2]float64 `json:"speech"`
			} `json:"placements"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &sim); err != nil {
			t.Fatal(err)
		}
		for _, p := range sim.Placements {
			db := fileDB(t, filepath.Join(devSet, "sim", p.Source))
			from, to := frames(p.Start), min(len(db), frames(p.End))
			ref := make([]bool, to-from)
			for _, s := range p.Speech {
				for f := frames(s[0]); f < min(frames(s[1]), len(ref)); f++ {
					ref[f] = true
				}
			}
			mine := make([]bool, to-from)
			for _, r := range speechRuns(db, speechThreshold(db), from, to) {
				for f := r[0]; f < r[1]; f++ {
					mine[f-from] = true
				}
			}
			// The simulator counts 0.15 s at either end of a placed
			// source as speech whatever it holds; compare inside.
			for f := 15; f < len(ref)-15; f++ {
				speech += b2f(ref[f])
				missed += b2f(ref[f] && !mine[f])
				extra += b2f(!ref[f] && mine[f])
			}
		}
	}
	t.Logf("against the simulator's annotation of %.0f s: %.2f %% missed, %.2f %% extra", speech/100, 100*missed/speech, 100*extra/speech)
	if missed > 0.03*speech || extra > 0.01*speech {
		t.Errorf("against the simulator's annotation of %.0f s: %.1f %% missed, %.1f %% extra", speech/100, 100*missed/speech, 100*extra/speech)
	}
}

func frames(sec float64) int { return int(math.Round(sec * 100)) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func fileDB(t *testing.T, path string) []float64 {
	t.Helper()
	return frameDB(readWAV(t, path))
}

func readWAV(t *testing.T, path string) []float32 {
	t.Helper()
	x, err := readSamples(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestCalls builds the calls part twice and checks it: the same bytes both
// times, two speakers per file whose pieces alternate, and every reference
// turn inside the audio and inside one of its speaker's pieces.
func TestCalls(t *testing.T) {
	if _, err := os.Stat(filepath.Join(devSet, "speakers", callSpeakers[0])); err != nil {
		t.Skip("dev set not found")
	}
	ctx := context.Background()
	dir, err := buildCalls(ctx, devSet, t.TempDir(), DefaultCallsSeed)
	if err != nil {
		t.Fatal(err)
	}
	again, err := buildCalls(ctx, devSet, t.TempDir(), DefaultCallsSeed)
	if err != nil {
		t.Fatal(err)
	}
	if cached, err := buildCalls(ctx, devSet, filepath.Dir(filepath.Dir(dir)), DefaultCallsSeed); err != nil || cached != dir {
		t.Errorf("a second build in the same cache gave %q, %v; want the cached %q", cached, err, dir)
	}
	other, err := buildCalls(ctx, devSet, filepath.Dir(filepath.Dir(dir)), DefaultCallsSeed+1)
	if err != nil || other == dir {
		t.Fatalf("another seed gave %q, %v; want a folder of its own", other, err)
	}
	if a, b := readWAV(t, filepath.Join(dir, "call01_ls_3080_ls_2033.wav")), readWAV(t, filepath.Join(other, "call01_ls_3080_ls_2033.wav")); len(a) == len(b) {
		t.Errorf("another seed laid call01 out to the same length, %d samples", len(a))
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 4*10 {
		t.Fatalf("%d files, want a WAV, RTTM, UEM and JSON for each of 10 pairs", len(names))
	}
	for _, name := range names {
		a, err1 := os.ReadFile(name)
		b, err2 := os.ReadFile(filepath.Join(again, filepath.Base(name)))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds (%v, %v)", filepath.Base(name), err1, err2)
		}
	}
	wavs, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	for _, wav := range wavs {
		checkCall(t, strings.TrimSuffix(wav, ".wav"))
	}
}

func checkCall(t *testing.T, base string) {
	uri := filepath.Base(base)
	var js struct{ Pieces []callPiece }
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	x := readWAV(t, base+".wav")
	dur := float64(len(x)) / audio.SampleRate
	refs, err := eval.ReadRTTMPath(base + ".rttm")
	if err != nil || len(refs) != 1 || refs[0].URI != uri {
		t.Fatalf("%s: reference %v, %v", uri, refs, err)
	}
	ref := refs[0]
	if l := ref.Labels(); len(l) != 2 || !strings.Contains(uri, l[0]) || !strings.Contains(uri, l[1]) {
		t.Errorf("%s: reference speakers %v", uri, l)
	}
	uems, err := eval.ReadUEMPath(base+".uem", nil)
	if u := uems[uri]; err != nil || len(u) != 1 || u[0].Start != 0 || math.Abs(u[0].End-dur) > 1e-3 {
		t.Errorf("%s: UEM %v (%v), want the whole %.3f s", uri, uems, err, dur)
	}
	checkPieces(t, uri, js.Pieces, dur)
	checkTurns(t, uri, ref, js.Pieces, dur)
	checkSilence(t, uri, x, js.Pieces)
	t.Logf("%s: %.1f s, %d pieces, %d turns, %.1f s of speech", uri, dur, len(js.Pieces), len(ref.Turns), ref.Speech())
}

// checkPieces: pieces alternate between the two speakers, last 1.5–7 s and
// have 0.2–0.8 s between them.
func checkPieces(t *testing.T, uri string, ps []callPiece, dur float64) {
	const eps = 1e-9
	for i, p := range ps {
		if l := p.End - p.Start; l < pieceMin/100.0-eps || l > pieceMax/100.0+eps || math.Abs(l-(p.SourceEnd-p.SourceStart)) > eps {
			t.Errorf("%s: piece %d lasts %.2f s (source %.2f–%.2f)", uri, i, l, p.SourceStart, p.SourceEnd)
		}
		if p.Start < 0 || p.End > dur {
			t.Errorf("%s: piece %d [%.2f, %.2f] outside the %.2f s file", uri, i, p.Start, p.End, dur)
		}
		if i == 0 {
			continue
		}
		if p.Speaker == ps[i-1].Speaker {
			t.Errorf("%s: pieces %d and %d are both %s", uri, i-1, i, p.Speaker)
		}
		if g := p.Start - ps[i-1].End; g < gapMin/100.0-eps || g > gapMax/100.0+eps {
			t.Errorf("%s: %.2f s between pieces %d and %d", uri, g, i-1, i)
		}
	}
}

// checkTurns: every reference turn lies inside the audio and inside a
// piece of its own speaker, and every piece holds speech.
func checkTurns(t *testing.T, uri string, ref *annotation.Annotation, ps []callPiece, dur float64) {
	held := make([]int, len(ps))
	for _, tr := range ref.Turns {
		if tr.Start < 0 || tr.End > dur || tr.Empty() {
			t.Errorf("%s: turn %v outside the %.3f s file", uri, tr.Segment, dur)
		}
		in := -1
		for i, p := range ps {
			if tr.Start >= p.Start-5e-4 && tr.End <= p.End+5e-4 {
				in = i
			}
		}
		if in < 0 || ps[in].Speaker != tr.Speaker {
			t.Errorf("%s: %s's turn %v lies in no piece of theirs", uri, tr.Speaker, tr.Segment)
			continue
		}
		held[in]++
	}
	for i, n := range held {
		if n == 0 {
			t.Errorf("%s: piece %d holds no reference speech", uri, i)
		}
	}
}

// checkSilence: the audio between pieces is silent, and each piece is its
// source's samples.
func checkSilence(t *testing.T, uri string, x []float32, ps []callPiece) {
	at := 0
	for i, p := range ps {
		start, end := int(math.Round(p.Start*100))*frameLen, int(math.Round(p.End*100))*frameLen
		for _, v := range x[at:start] {
			if v != 0 {
				t.Errorf("%s: sound before piece %d", uri, i)
				break
			}
		}
		at = end
		src := readWAV(t, filepath.Join(devSet, p.Source))
		off := int(math.Round(p.SourceStart*100)) * frameLen
		for j := start; j < end; j++ {
			if x[j] != src[off+j-start] {
				t.Errorf("%s: piece %d sample %d is %.5f, its source's %.5f", uri, i, j, x[j], src[off+j-start])
				break
			}
		}
	}
}

func TestCallsNeedSpeakers(t *testing.T) {
	_, err := buildCalls(context.Background(), t.TempDir(), t.TempDir(), DefaultCallsSeed)
	if err == nil || !strings.Contains(err.Error(), "no recordings of ls_3080") || !strings.Contains(err.Error(), "--calls=false") {
		t.Errorf("a set without speakers/ gave %v", err)
	}
}
