package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
)

// Calls is the part of long two-speaker conversations built from the set's
// single-speaker recordings. On unseen 2-speaker telephone calls whospoke
// found 3–4 speakers in four of six; the set's one 30 s call and its phone
// conditions do not show that, these conversations do (issue 20), so every
// counting change is measured against them.
const Calls = "calls"

// callSpeakers are the set's LibriSpeech speakers with ten utterances each
// under speakers/; every pair of them is one conversation.
var callSpeakers = []string{"ls_3080", "ls_2033", "ls_367", "ls_1998", "ls_1688"}

// How the conversations are laid out, in 10 ms frames: each speaker's
// utterances are cut into pieces of 1.5–7 s, the two speakers' pieces
// alternate, with 0.2–0.8 s between them, like the turns of a call. The
// samples are the sources' own, at the level they were recorded at.
const (
	callsVersion = 2 // part of the cache key: bump when the output changes
	pieceMin     = 150
	pieceMax     = 700
	pieceMean    = 400 // the mean piece length the number of pieces aims at
	gapMin       = 20
	gapMax       = 80
	callEdge     = 50 // silence before the first piece and after the last
)

// DefaultCallsSeed lays out the calls part unless Config.CallsSeed says
// otherwise (the number). Each pair draws from its own stream of it.
const DefaultCallsSeed = 20

// utterance is one source recording and its speech.
type utterance struct {
	rel    string // path under the set
	x      []float32
	db     []float64 // frameDB(x)
	thr    float64   // speechThreshold(db)
	lo, hi int       // frames from its first speech to the end of its last
}

// callPiece is one turn of a conversation: a stretch of one utterance.
type callPiece struct {
	Speaker     string  `json:"speaker"`
	Source      string  `json:"source"`
	SourceStart float64 `json:"source_start"`
	SourceEnd   float64 `json:"source_end"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	utt         *utterance
	from, to    int // frames of utt
}

// callSpeaker is one speaker's utterances.
type callSpeaker struct {
	id   string
	utts []*utterance
}

// buildCalls returns the folder holding the calls part laid out from seed
// (callNN_A_B.wav, .rttm, .uem and .json), generating it under cacheDir on
// first use. The cache key holds the generator's version, the seed and
// every source's name, size and modification time.
func buildCalls(ctx context.Context, set, cacheDir string, seed uint64) (string, error) {
	var srcs []string
	for _, spk := range callSpeakers {
		wavs, _ := filepath.Glob(filepath.Join(set, "speakers", spk, "*.wav"))
		if len(wavs) == 0 {
			return "", fmt.Errorf("bench: calls part: no recordings of %s in %s (whospoke bench --calls=false skips the part)", spk, filepath.Join(set, "speakers"))
		}
		srcs = append(srcs, wavs...)
	}
	sort.Strings(srcs)
	h := sha256.New()
	fmt.Fprintf(h, "calls v%d seed %d\x00", callsVersion, seed)
	for _, s := range srcs {
		st, err := os.Stat(s)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", filepath.Base(s), st.Size(), st.ModTime().UnixNano())
	}
	dir := filepath.Join(cacheDir, Calls, hex.EncodeToString(h.Sum(nil)[:6]))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := writeCalls(ctx, set, tmp, seed); err != nil {
		return "", err
	}
	// A renamed folder is complete: a run stopped half-way leaves none.
	if err := os.Rename(tmp, dir); err != nil {
		if _, e := os.Stat(dir); e == nil {
			return dir, nil // another run built it first
		}
		return "", err
	}
	return dir, nil
}

// writeCalls writes one conversation for every pair of callSpeakers to dir.
func writeCalls(ctx context.Context, set, dir string, seed uint64) error {
	spks := make([]*callSpeaker, len(callSpeakers))
	for i, id := range callSpeakers {
		s, err := loadCallSpeaker(ctx, set, id)
		if err != nil {
			return err
		}
		spks[i] = s
	}
	n := 0
	for i := range spks {
		for j := i + 1; j < len(spks); j++ {
			n++
			uri := fmt.Sprintf("call%02d_%s_%s", n, spks[i].id, spks[j].id)
			if err := ctx.Err(); err != nil {
				return err
			}
			pieces, err := layCall(uri, seed, spks[i], spks[j])
			if err != nil {
				return err
			}
			if err := writeCall(dir, uri, seed, pieces); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadCallSpeaker reads a speaker's recordings and finds their speech.
// Recordings with under pieceMin of speech are left out: they are too
// short to be a turn.
func loadCallSpeaker(ctx context.Context, set, id string) (*callSpeaker, error) {
	wavs, _ := filepath.Glob(filepath.Join(set, "speakers", id, "*.wav"))
	sort.Strings(wavs)
	s := &callSpeaker{id: id}
	for _, w := range wavs {
		x, err := readSamples(ctx, w)
		if err != nil {
			return nil, err
		}
		u := &utterance{rel: filepath.Join("speakers", id, filepath.Base(w)), x: x, db: frameDB(x)}
		u.thr = speechThreshold(u.db)
		runs := speechRuns(u.db, u.thr, 0, len(u.db))
		if len(runs) == 0 || runs[len(runs)-1][1]-runs[0][0] < pieceMin {
			continue
		}
		u.lo, u.hi = runs[0][0], runs[len(runs)-1][1]
		s.utts = append(s.utts, u)
	}
	if len(s.utts) == 0 {
		return nil, fmt.Errorf("bench: calls part: no recording of %s holds %.1f s of speech", id, pieceMin/100.0)
	}
	return s, nil
}

// readSamples returns a whole recording as 16 kHz mono samples.
func readSamples(ctx context.Context, path string) ([]float32, error) {
	a, err := audio.Open(ctx, path, audio.DefaultOptions())
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Samples(0, a.Len())
}

// layCall cuts both speakers' utterances into the same number of pieces and
// places them alternately; the pair's name seeds the draws, so one
// conversation does not change when another is added.
func layCall(uri string, seed uint64, a, b *callSpeaker) ([]callPiece, error) {
	f := fnv.New64a()
	f.Write([]byte(uri))
	rng := rand.New(rand.NewPCG(seed, f.Sum64()))
	n, err := pieceCount(a, b)
	if err != nil {
		return nil, fmt.Errorf("bench: calls part: %s: %w", uri, err)
	}
	pa, pb := cutSpeaker(rng, a, n), cutSpeaker(rng, b, n)
	if rng.IntN(2) == 1 {
		pa, pb = pb, pa
	}
	var out []callPiece
	pos := callEdge
	for i := range n {
		for _, p := range []callPiece{pa[i], pb[i]} {
			p.Start, p.End = float64(pos)/100, float64(pos+p.to-p.from)/100
			out = append(out, p)
			pos += p.to - p.from + gapMin + rng.IntN(gapMax-gapMin+1)
		}
	}
	return out, nil
}

// pieceCount is the number of pieces each speaker's speech is cut into:
// the one whose mean length is nearest pieceMean, among those both
// speakers' utterances can be cut into with every piece 1.5–7 s long.
func pieceCount(a, b *callSpeaker) (int, error) {
	lo, hi, total := 0, math.MaxInt, 0
	for _, s := range []*callSpeaker{a, b} {
		least, most := 0, 0
		for _, u := range s.utts {
			l := u.hi - u.lo
			least += (l + pieceMax - 1) / pieceMax
			most += l / pieceMin
			total += l
		}
		lo, hi = max(lo, least), min(hi, most)
	}
	if lo > hi {
		return 0, errors.New("the two speakers' speech cannot be cut into as many pieces each")
	}
	return min(hi, max(lo, int(math.Round(float64(total)/(2*pieceMean))))), nil
}

// cutSpeaker cuts a speaker's utterances into n pieces in reading order:
// each utterance into as few as its length allows, and the rest added one
// at a time to random utterances that can take one more.
func cutSpeaker(rng *rand.Rand, s *callSpeaker, n int) []callPiece {
	k := make([]int, len(s.utts))
	sum := 0
	for i, u := range s.utts {
		k[i] = (u.hi - u.lo + pieceMax - 1) / pieceMax
		sum += k[i]
	}
	for ; sum < n; sum++ {
		var open []int
		for i, u := range s.utts {
			if (k[i]+1)*pieceMin <= u.hi-u.lo {
				open = append(open, i)
			}
		}
		k[open[rng.IntN(len(open))]]++ // pieceCount made sure one is open
	}
	var out []callPiece
	for i, u := range s.utts {
		cuts := cutUtterance(rng, u, k[i])
		for j := range k[i] {
			out = append(out, callPiece{Speaker: s.id, Source: u.rel, utt: u, from: cuts[j], to: cuts[j+1],
				SourceStart: float64(cuts[j]) / 100, SourceEnd: float64(cuts[j+1]) / 100})
		}
	}
	return out
}

// cutUtterance returns the k+1 frame boundaries of k pieces of u's speech:
// an even split moved by up to a quarter of a piece at random, then onto
// the quietest frame within 0.2 s, so that a cut falls in a pause or
// between words where it can. Every piece stays 1.5–7 s long.
func cutUtterance(rng *rand.Rand, u *utterance, k int) []int {
	cuts := []int{u.lo}
	step := float64(u.hi-u.lo) / float64(k)
	for j := 1; j < k; j++ {
		prev, left := cuts[j-1], k-j
		// The window that leaves the rest of the speech cuttable.
		lo := max(prev+pieceMin, u.hi-left*pieceMax)
		hi := min(prev+pieceMax, u.hi-left*pieceMin)
		target := float64(u.lo) + step*float64(j) + step/2*(rng.Float64()-0.5)
		t := min(hi, max(lo, int(math.Round(target))))
		best := t
		for f := max(lo, t-20); f <= min(hi, t+20); f++ {
			if u.db[f] < u.db[best] {
				best = f
			}
		}
		cuts = append(cuts, best)
	}
	return append(cuts, u.hi)
}

// callReference is the reference of a laid-out conversation: each piece's
// speech as the energy detector finds it on the clean piece, not the whole
// piece, so the pauses inside an utterance are not scored as missed speech.
func callReference(uri string, pieces []callPiece) *annotation.Annotation {
	ref := &annotation.Annotation{URI: uri}
	for _, p := range pieces {
		shift := p.Start - float64(p.from)/100
		for _, r := range speechRuns(p.utt.db, p.utt.thr, p.from, p.to) {
			ref.Turns = append(ref.Turns, annotation.Turn{Speaker: p.Speaker,
				Segment: annotation.Segment{Start: float64(r[0])/100 + shift, End: float64(r[1])/100 + shift}})
		}
	}
	return ref
}

// writeCall writes a conversation's WAV (16 kHz, 16-bit), its reference
// RTTM, a UEM over the whole file and its pieces as JSON.
func writeCall(dir, uri string, seed uint64, pieces []callPiece) error {
	last := pieces[len(pieces)-1]
	x := make([]float32, (int(math.Round(last.End*100))+callEdge)*frameLen)
	for _, p := range pieces {
		at := int(math.Round(p.Start*100)) * frameLen
		copy(x[at:], p.utt.x[p.from*frameLen:p.to*frameLen])
	}
	base := filepath.Join(dir, uri)
	pcm := make([]byte, 2*len(x))
	audio.PutPCM16(pcm, x)
	var wav bytes.Buffer
	if err := audio.WriteWAV16Header(&wav, int64(len(x))); err != nil {
		return err
	}
	wav.Write(pcm)
	var rttm, uem bytes.Buffer
	if err := annotation.WriteRTTM(&rttm, callReference(uri, pieces)); err != nil {
		return err
	}
	dur := annotation.Timeline{{Start: 0, End: float64(len(x)) / audio.SampleRate}}
	if err := annotation.WriteUEM(&uem, map[string]annotation.Timeline{uri: dur}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(struct {
		URI    string      `json:"uri"`
		Seed   uint64      `json:"seed"`
		Pieces []callPiece `json:"pieces"`
	}{uri, seed, pieces}, "", " ")
	if err != nil {
		return err
	}
	for ext, b := range map[string][]byte{".wav": wav.Bytes(), ".rttm": rttm.Bytes(), ".uem": uem.Bytes(), ".json": js} {
		if err := os.WriteFile(base+ext, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
