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
