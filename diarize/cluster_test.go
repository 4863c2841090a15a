package diarize

import (
	"math/rand/v2"
	"testing"

	"github.com/whospoke/whospoke/chunkembed"
	"github.com/whospoke/whospoke/clustering"
	"github.com/whospoke/whospoke/embedding"
)

// unit returns a unit vector near axis a (noise of scale eps).
func unit(r *rand.Rand, a int, eps float32) []float32 {
	v := make([]float32, embedding.Dim)
	v[a] = 1
	for i := range v {
		v[i] += eps * float32(r.NormFloat64())
	}
	embedding.Normalize(v)
	return v
}

// everyThird is voice 1 in every third chunk, voice 0 in the rest.
func everyThird(j int) int {
	if j%3 == 2 {
		return 1
	}
	return 0
}

// pooledPair is local speaker 0 of window w pooling, with weight 1, the n
// chunks from chunk w on (one local speaker that holds whichever voices
// those chunks hold).
func pooledPair(w int, chunks *chunkSet, n int) pair {
	p := pair{w: w, k: 0, clean: true, vec: make([]float32, embedding.Dim)}
	for j := w; j < w+n; j++ {
		p.uses = append(p.uses, chunkembed.Use{Chunk: int64(j), Weight: 1})
		for i, x := range chunks.vecs[j] {
			p.vec[i] += x
		}
	}
	embedding.Normalize(p.vec)
	return p
}

// After refinement every centroid is the mean of the pairs it holds and no
// pair would move (a fixed point), two local speakers of a window never
// share a speaker, and the two voices are told apart.
func TestClusterPairsRefined(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var pairs []pair
	for w := range 40 {
		// Speaker "axis 0" in every window, "axis 1" in the odd ones, half
		// of whose pairs are not clean (only assigned, not clustered).
		pairs = append(pairs, pair{w: w, k: 0, vec: unit(r, 0, 0.01), clean: true})
		if w%2 == 1 {
			pairs = append(pairs, pair{w: w, k: 1, vec: unit(r, 1, 0.01), clean: w%4 == 1})
		}
		if w%10 == 0 {
			pairs = append(pairs, pair{w: w, k: 2}) // too brief to embed
		}
	}
	m, err := clusterPairs(pairs, nil, 40, clustering.Config{Threshold: 0.65, MinClusterSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.k != 2 {
		t.Fatalf("%d speakers, want 2", m.k)
	}
	for w, s := range m.window {
		if s[2] != -1 {
			t.Errorf("window %d: a pair without embedding was assigned", w)
		}
		if s[1] >= 0 && s[0] == s[1] {
			t.Errorf("window %d: both local speakers became speaker %d", w, s[0])
		}
		if s[0] != m.window[0][0] {
			t.Errorf("window %d: local speaker 0 is speaker %d, not %d", w, s[0], m.window[0][0])
		}
	}
	locals := make([]clustering.Local, len(pairs))
	speaker := make([]int, len(pairs))
	for i, p := range pairs {
		locals[i], speaker[i] = clustering.Local{Window: p.w, Vec: p.vec}, m.window[p.w][p.k]
	}
	if clustering.AssignWindows(locals, clustering.Centroids(locals, speaker, make([][]float32, m.k)), speaker) {
		t.Error("refinement stopped before a fixed point")
	}
}

// A local speaker that holds two voices in every window (as segmentation
// sometimes does) is assigned as a whole to the dominant voice, but each of
// its chunks is labelled by its own voice, and speakerAt follows the chunks.
func TestChunkLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const windows, perWindow = 30, 9 // 2 s chunks every 1 s in a 10 s window
	voice := everyThird
	chunks := &chunkSet{grid: chunkembed.Grid{Length: 2 * 16000, Hop: 16000}}
	for j := range windows + perWindow {
		chunks.vecs = append(chunks.vecs, unit(r, voice(j), 0.01))
	}
	var pairs []pair
	for w := range windows {
		pairs = append(pairs, pooledPair(w, chunks, perWindow))
		if w%2 == 1 { // voice 1 also heard apart in some windows
			pairs = append(pairs, pair{w: w, k: 1, clean: true, vec: unit(r, 1, 0.01), uses: []chunkembed.Use{{Chunk: int64(w + 1), Weight: 1}}})
		}
	}
	m, err := clusterPairs(pairs, chunks, windows, clustering.Config{Threshold: 0.65, MinClusterSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.k != 2 {
		t.Fatalf("%d speakers, want 2", m.k)
	}
	speaker := [2]int{m.window[0][0], 1 - m.window[0][0]}
	for w := range windows {
		if m.window[w][0] != speaker[0] {
			t.Fatalf("window %d: the mixed local speaker is speaker %d, want the dominant voice's %d", w, m.window[w][0], speaker[0])
		}
		for _, u := range m.uses[w][0] {
			if c := m.chunkSpeaker[u.Chunk]; c != speaker[voice(int(u.Chunk))] {
				t.Errorf("window %d chunk %d: speaker %d, want %d", w, u.Chunk, c, speaker[voice(int(u.Chunk))])
			}
		}
		// The middle of each chunk: its own voice.
		for j := w; j < w+perWindow; j++ {
			mid := int64(j)*chunks.grid.Hop + chunks.grid.Length/2
			if got := m.speakerAt(w, 0, mid); got != speaker[voice(j)] {
				t.Errorf("window %d, middle of chunk %d: speaker %d, want %d", w, j, got, speaker[voice(j)])
			}
		}
	}
	// Without chunks the pair's speaker stands.
	plain, err := clusterPairs(pairs, nil, windows, clustering.Config{Threshold: 0.65, MinClusterSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.speakerAt(0, 0, chunks.grid.Hop*2+chunks.grid.Length/2); got != plain.window[0][0] {
		t.Errorf("without chunk labels speakerAt = %d, want the pair's %d", got, plain.window[0][0])
	}
}

// When every window's local speaker mixes two voices, the pairs form one
// cluster; its chunks hold two voices, so the speaker is split and each
// chunk labelled by its voice. One voice, a second voice in too few chunks,
// or a count fixed by the caller leave the speaker whole.
func TestSplitMixed(t *testing.T) {
	const windows, perWindow = 30, 9
	rare := func(j int) int { // voice 1 in 5 of 39 chunks: under splitMinShare
		if j%8 == 4 {
			return 1
		}
		return 0
	}
	free := clustering.Config{Threshold: 0.65, MinClusterSize: 2}
	for _, tc := range []struct {
		name  string
		voice func(int) int
		cfg   clustering.Config
		want  int
	}{
		{"two voices", everyThird, free, 2},
		{"one voice", func(int) int { return 0 }, free, 1},
		{"second voice too rare", rare, free, 1},
		{"max one speaker", everyThird, clustering.Config{Threshold: 0.65, MinClusterSize: 2, MaxSpeakers: 1}, 1},
		{"exactly one speaker", everyThird, clustering.Config{Threshold: 0.65, MinClusterSize: 2, NumSpeakers: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 12))
			chunks := &chunkSet{grid: chunkembed.Grid{Length: 2 * 16000, Hop: 16000}}
			for j := range windows + perWindow {
				chunks.vecs = append(chunks.vecs, unit(r, tc.voice(j), 0.047)) // within-voice cosine ≈ 0.7
			}
			var pairs []pair
			for w := range windows {
				pairs = append(pairs, pooledPair(w, chunks, perWindow))
			}
			m, err := clusterPairs(pairs, chunks, windows, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if m.k != tc.want {
				t.Fatalf("%d speakers, want %d", m.k, tc.want)
			}
			if tc.want == 1 {
				return
			}
			speaker := [2]int{m.chunkSpeaker[0], m.chunkSpeaker[2]}
			if speaker[0] == speaker[1] {
				t.Fatalf("both voices labelled speaker %d", speaker[0])
			}
			for j := range chunks.vecs {
				if got := m.chunkSpeaker[j]; got != speaker[tc.voice(j)] {
					t.Errorf("chunk %d: speaker %d, want %d", j, got, speaker[tc.voice(j)])
				}
			}
		})
	}
}

// Two voices alike enough for the AHC threshold to merge them, but heard
// as two clean local speakers of one window, stay two speakers (the second
// local speaker of such a window would have no speaker to take); with a
// count bounded by the caller they stay one.
func TestVoicesHeardAtOnce(t *testing.T) {
	const windows = 40
	near := func(r *rand.Rand) []float32 { // cosine ≈ 0.85 to voice 0
		v := unit(r, 0, 0.01)
		w := unit(r, 1, 0.01)
		for i := range v {
			v[i] += 0.6 * w[i]
		}
		embedding.Normalize(v)
		return v
	}
	for _, tc := range []struct {
		name    string
		second  func(w int) bool
		maxSpks int
		want    int
	}{
		{"two stretches", func(w int) bool { return w >= 5 && w < 10 || w >= 25 && w < 30 }, 0, 2},
		{"one stretch", func(w int) bool { return w >= 5 && w < 15 }, 0, 2},
		{"two stretches, max one speaker", func(w int) bool { return w >= 5 && w < 10 || w >= 25 && w < 30 }, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, 22))
			chunks := &chunkSet{grid: chunkembed.Grid{Length: 2 * 16000, Hop: 16000}}
			var pairs []pair
			add := func(w, k int, v []float32) {
				c := int64(len(chunks.vecs))
				chunks.vecs = append(chunks.vecs, v)
				pairs = append(pairs, pair{w: w, k: k, clean: true, vec: v, uses: []chunkembed.Use{{Chunk: c, Weight: 1}}})
			}
			for w := range windows {
				add(w, 0, unit(r, 0, 0.01))
				if tc.second(w) {
					add(w, 1, near(r))
				}
			}
			if c := embedding.Cosine(pairs[0].vec, pairs[len(pairs)-1].vec); c < 0.8 {
				t.Fatalf("voices not alike enough to merge (cosine %.2f)", c)
			}
			m, err := clusterPairs(pairs, chunks, windows, clustering.Config{Threshold: 0.65, MinClusterSize: 2, MaxSpeakers: tc.maxSpks})
			if err != nil {
				t.Fatal(err)
			}
			if m.k != tc.want {
				t.Fatalf("%d speakers, want %d", m.k, tc.want)
			}
			if tc.want == 2 {
				for w, s := range m.window {
					if s[1] >= 0 && s[0] == s[1] || tc.second(w) && s[1] < 0 {
						t.Errorf("window %d: speakers %v", w, s)
					}
				}
			}
		})
	}
}

// A brief voice (no clean chunk) heard beside a long one in one window has
// no speaker to take when the clean pairs make one speaker; it becomes a
// second speaker, unless the caller bounds the count at one. Heard alone in
// its window, it joins the one speaker as before.
func TestUnplacedLocalSeedsSpeaker(t *testing.T) {
	const windows = 30
	for _, tc := range []struct {
		name      string
		beside    bool // the brief voice shares window 0 with the long one
		maxSpks   int
		wantK     int
		wantTaken bool // the brief voice's pair has a speaker
	}{
		{"beside the long voice", true, 0, 2, true},
		{"beside, max one speaker", true, 1, 1, false},
		{"alone in its window", false, 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(31, 32))
			chunks := &chunkSet{grid: chunkembed.Grid{Length: 2 * 16000, Hop: 16000}}
			var pairs []pair
			for w := range windows {
				if w == 0 && !tc.beside {
					continue
				}
				c := int64(len(chunks.vecs))
				v := unit(r, 0, 0.01)
				chunks.vecs = append(chunks.vecs, v)
				pairs = append(pairs, pair{w: w, k: 0, clean: true, vec: v, uses: []chunkembed.Use{{Chunk: c, Weight: 1}}})
			}
			brief := len(pairs)
			pairs = append(pairs, pair{w: 0, k: 1, vec: unit(r, 1, 0.01)}) // embedded from its own speech
			// Pairs are ordered by window, as the pipeline makes them.
			pairs = append(pairs[brief:], pairs[:brief]...)
			m, err := clusterPairs(pairs, chunks, windows, clustering.Config{Threshold: 0.65, MinClusterSize: 2, MaxSpeakers: tc.maxSpks})
			if err != nil {
				t.Fatal(err)
			}
			if m.k != tc.wantK {
				t.Fatalf("%d speakers, want %d", m.k, tc.wantK)
			}
			s := m.window[0]
			if taken := s[1] >= 0; taken != tc.wantTaken {
				t.Fatalf("window 0 speakers %v: brief voice taken %v, want %v", s, taken, tc.wantTaken)
			}
			if tc.beside && s[0] == s[1] {
				t.Errorf("window 0: both local speakers are speaker %d", s[0])
			}
		})
	}
}
