package clustering

import (
	"math/rand/v2"
	"testing"

	"github.com/whospoke/whospoke/embedding"
)

// blobs makes k groups of unit vectors around random centres, sizes[i] each,
// with spread noise, plus the true labels.
func blobs(r *rand.Rand, dim int, sizes []int, spread float64) ([]float32, []int) {
	var vecs []float32
	var truth []int
	for g, n := range sizes {
		c := make([]float64, dim)
		for j := range c {
			c[j] = r.NormFloat64()
		}
		for range n {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(c[j] + spread*r.NormFloat64())
			}
			embedding.Normalize(v)
			vecs = append(vecs, v...)
			truth = append(truth, g)
		}
	}
	return vecs, truth
}

// purity checks that labels induce exactly the partition truth does.
func samePartition(t *testing.T, got, truth []int) {
	t.Helper()
	m := map[int]int{}
	back := map[int]int{}
	for i := range got {
		if g, ok := m[truth[i]]; ok && g != got[i] {
			t.Fatalf("item %d: true group %d split across clusters %d and %d", i, truth[i], g, got[i])
		}
		if tr, ok := back[got[i]]; ok && tr != truth[i] {
			t.Fatalf("item %d: cluster %d mixes true groups %d and %d", i, got[i], tr, truth[i])
		}
		m[truth[i]], back[got[i]] = got[i], truth[i]
	}
}

var base = Config{Threshold: 0.9, MinClusterSize: 2}

func TestClusterFindsGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vecs, truth := blobs(r, 32, []int{20, 12, 7}, 0.15)
	labels, cents, err := Cluster(vecs, 32, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(cents) != 3 {
		t.Fatalf("want 3 clusters, got %d", len(cents))
	}
	samePartition(t, labels, truth)
}

func TestClusterCountConstraints(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vecs, _ := blobs(r, 32, []int{15, 15, 15, 15}, 0.15)
	for _, tc := range []struct {
		cfg  Config
		want int
	}{
		{Config{Threshold: 0.9, MinClusterSize: 2, NumSpeakers: 2}, 2},
		{Config{Threshold: 0.9, MinClusterSize: 2, NumSpeakers: 6}, 6},
		{Config{Threshold: 0.9, MinClusterSize: 2, MaxSpeakers: 3}, 3},
		{Config{Threshold: 0.9, MinClusterSize: 2, MinSpeakers: 5}, 5},
		{Config{Threshold: 0.9, MinClusterSize: 2, MinSpeakers: 2, MaxSpeakers: 8}, 4},
	} {
		labels, cents, err := Cluster(vecs, 32, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(cents) != tc.want {
			t.Errorf("%+v: got %d clusters, want %d", tc.cfg, len(cents), tc.want)
		}
		for _, l := range labels {
			if l < 0 || l >= len(cents) {
				t.Fatalf("label %d out of range", l)
			}
		}
	}
}

func TestSmallClustersReassigned(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vecs, truth := blobs(r, 32, []int{20, 20, 1}, 0.1)
	labels, cents, err := Cluster(vecs, 32, Config{Threshold: 0.9, MinClusterSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(cents) != 2 {
		t.Fatalf("a singleton must not be a speaker: got %d clusters", len(cents))
	}
	samePartition(t, labels[:40], truth[:40])
}

func TestPregroupPathAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	vecs, truth := blobs(r, 32, []int{120, 90, 60}, 0.1)
	cfg := base
	cfg.MaxItems = 40
	labels, cents, err := Cluster(vecs, 32, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cents) != 3 {
		t.Fatalf("want 3 clusters, got %d", len(cents))
	}
	samePartition(t, labels, truth)
}

func TestClusterBadInput(t *testing.T) {
	if _, _, err := Cluster(make([]float32, 10), 3, base); err == nil {
		t.Error("want error for ragged input")
	}
	if _, _, err := Cluster(nil, 3, Config{Threshold: 0, MinClusterSize: 1}); err == nil {
		t.Error("want error for zero threshold")
	}
	if _, _, err := Cluster(nil, 3, Config{Threshold: 1, MinClusterSize: 1, MinSpeakers: 3, MaxSpeakers: 2}); err == nil {
		t.Error("want error for min > max")
	}
	labels, cents, err := Cluster(nil, 3, base)
	if err != nil || labels != nil || cents != nil {
		t.Errorf("empty input: %v %v %v", labels, cents, err)
	}
}

// near returns n unit vectors around the unit direction Σ w[i]·e(axis[i]),
// with a little noise.
func near(r *rand.Rand, dim, n int, axes []int, w []float64) []float32 {
	var out []float32
	for range n {
		v := make([]float32, dim)
		for i, a := range axes {
			v[a] = float32(w[i])
		}
		for j := range v {
			v[j] += float32(0.01 * r.NormFloat64())
		}
		embedding.Normalize(v)
		out = append(out, v...)
	}
	return out
}

// A small cluster below pyannote's size bar is a speaker only when its
// voice is no closer to a large cluster than the recording's two large
// speakers are to each other (cosine 0.6 here): a fragment at 0.75 to one
// of them joins it, a short voice at 0.3 stays. With a single large
// cluster there is no such measure, and both stay as MinClusterSize says.
func TestSmallClustersMeasuredAgainstTheRecording(t *testing.T) {
	const dim = 16
	r := rand.New(rand.NewPCG(41, 42))
	a := near(r, dim, 20, []int{0}, []float64{1})
	b := near(r, dim, 20, []int{0, 1}, []float64{0.6, 0.8})
	fragment := near(r, dim, 3, []int{0, 3}, []float64{0.75, 0.661})
	short := near(r, dim, 3, []int{0, 2}, []float64{0.3, 0.954})
	cfg := Config{Threshold: 0.65, MinClusterSize: 2}

	vecs := append(append(append(append([]float32(nil), a...), b...), fragment...), short...)
	labels, cents, err := Cluster(vecs, dim, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cents) != 3 {
		t.Fatalf("two speakers, a fragment and a short voice: %d clusters, want 3", len(cents))
	}
	if labels[40] != labels[0] || labels[43] == labels[0] || labels[43] == labels[20] {
		t.Errorf("fragment %d (want %d, speaker A's); short voice %d (want apart from %d and %d)", labels[40], labels[0], labels[43], labels[0], labels[20])
	}

	vecs = append(append(append([]float32(nil), a...), a...), append(fragment, short...)...)
	if _, cents, err = Cluster(vecs, dim, cfg); err != nil {
		t.Fatal(err)
	}
	if len(cents) != 3 {
		t.Errorf("one large speaker, a fragment and a short voice: %d clusters, want 3 (MinClusterSize alone)", len(cents))
	}
}
