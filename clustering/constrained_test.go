package clustering

import (
	"math/rand/v2"
	"testing"

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

// Centroids averages the assigned locals and keeps the old centroid of a
// speaker that holds none.
func TestCentroids(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b, old := unit(r, 0, 0.1), unit(r, 0, 0.1), unit(r, 5, 0)
	got := Centroids([]Local{{Window: 0, Vec: a}, {Window: 1, Vec: b}}, []int{0, 0}, [][]float32{nil, old})
	want := make([]float32, embedding.Dim)
	for i := range want {
		want[i] = a[i] + b[i]
	}
	embedding.Normalize(want)
	if embedding.Cosine(got[0], want) < 0.9999 {
		t.Errorf("centroid 0 is not the mean of its locals: cosine %v", embedding.Cosine(got[0], want))
	}
	if &got[1][0] != &old[0] {
		t.Error("an empty speaker lost its centroid")
	}
}

// Two locals of one window never share a speaker, even when both are
// nearest to the same centroid; a window with more locals than centroids
// leaves one out, and a local without an embedding is never assigned.
func TestAssignWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	centroids := [][]float32{unit(r, 0, 0), unit(r, 1, 0)}
	locals := []Local{
		{Window: 0, Vec: unit(r, 0, 0.01)}, {Window: 0, Vec: unit(r, 0, 0.2)}, // both near 0
		{Window: 1, Vec: unit(r, 1, 0.01)}, {Window: 1}, // no embedding
		{Window: 2, Vec: unit(r, 0, 0.01)}, {Window: 2, Vec: unit(r, 1, 0.01)}, {Window: 2, Vec: unit(r, 2, 0.01)},
	}
	speaker := []int{-1, -1, -1, -1, -1, -1, -1}
	if !AssignWindows(locals, centroids, speaker) {
		t.Fatal("nothing assigned")
	}
	want := []int{0, 1, 1, -1, 0, 1, -1}
	for i := range want {
		if speaker[i] != want[i] {
			t.Fatalf("speakers %v, want %v", speaker, want)
		}
	}
	if AssignWindows(locals, centroids, speaker) {
		t.Error("the same assignment again reported a change")
	}
	if s, c := Refine(locals, centroids); len(c) != 2 || s[3] != -1 || s[0] == s[1] {
		t.Errorf("refined: speakers %v, %d centroids", s, len(c))
	}
}

// Nearest picks the most similar centroid by cosine, whatever its scale.
func TestNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	big := unit(r, 0, 0)
	for i := range big {
		big[i] *= 7
	}
	if got := Nearest(unit(r, 1, 0.05), [][]float32{big, unit(r, 1, 0)}); got != 1 {
		t.Errorf("nearest %d, want 1", got)
	}
	if got := Nearest(unit(r, 1, 0), nil); got != -1 {
		t.Errorf("no centroids: %d, want -1", got)
	}
}

// Every qualifying speaker is split in one pass, the most distinct first,
// as far as the room for more speakers allows.
func TestSplitMixedRoom(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	// Speaker 0 holds two voices that share axis 0 (between-voice cosine
	// ≈ 0.5), speaker 1 two unrelated voices on axes 2 and 3 (≈ 0).
	members := make([][][]float32, 2)
	for j := range 40 {
		spk, voice := j%2, (j/2)%2
		v := unit(r, 2+voice, 0.047)
		if spk == 0 { // axis 4 or 5 plus a shared axis 0
			v = unit(r, 4+voice, 0.047)
			for i, x := range unit(r, 0, 0.047) {
				v[i] += x
			}
			embedding.Normalize(v)
		}
		members[spk] = append(members[spk], v)
	}
	centroids := [][]float32{unit(r, 0, 0), unit(r, 2, 0)}
	if got := SplitMixed(members, centroids, 0); got != nil {
		t.Errorf("no room: %d centroids, want no split", len(got))
	}
	one := SplitMixed(members, centroids, 1)
	if len(one) != 3 || &one[0][0] != &centroids[0][0] {
		t.Fatalf("room for one: %d centroids (speaker 0 split: %v), want 3 with the more distinct speaker 1 split", len(one), &one[0][0] != &centroids[0][0])
	}
	if all := SplitMixed(members, centroids, 10); len(all) != 4 {
		t.Errorf("room for all: %d centroids, want 4", len(all))
	}
}
