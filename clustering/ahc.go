// Package clustering groups speaker embeddings into global speakers, for
// files and live streams alike: agglomerative clustering with centroid
// linkage on unit vectors, a distance threshold or a fixed speaker count,
// small-cluster reassignment; the constrained (Hungarian) assignment that
// keeps two local speakers of one window apart, its refinement and the
// nearest-centroid labelling; the bisection that tests whether a speaker
// holds two voices and the split of such speakers; the window clustering
// that puts these together for a file's windows or a live stream's
// buffers (windows.go); and the live path's online clustering.
package clustering

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/whospoke/whospoke/embedding"
)

// Config selects how embeddings become speakers.
//
// Why this clustering: on the dev set, centroid-linkage AHC re-tuned for
// CAM++ with small-cluster reassignment beat spectral clustering with
// eigengap (which was also fragile on short files); see docs/METHODS.md and
// BENCHMARKS.md for the measurements.
type Config struct {
	// Threshold is the largest Euclidean distance between unit-vector
	// centroids that still merges two clusters (≈ sqrt(2·cosine distance)).
	Threshold float64
	// MinClusterSize: clusters with fewer members are not speakers on their
	// own; their members go to the nearest large cluster. Clusters above it
	// but under pyannote's size bar must also pass speakerClusters'
	// comparison with the recording's own speakers.
	MinClusterSize int
	// NumSpeakers fixes the count when > 0; otherwise MinSpeakers and
	// MaxSpeakers (0 = unbounded) clamp the estimated count.
	NumSpeakers, MinSpeakers, MaxSpeakers int
	// MaxItems bounds the AHC's quadratic memory: above it, items are first
	// pre-merged into at most MaxItems tight groups.
	MaxItems int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Threshold <= 0 || c.Threshold > 2:
		return fmt.Errorf("clustering: threshold %.3g outside (0, 2]", c.Threshold)
	case c.MinClusterSize < 1:
		return fmt.Errorf("clustering: min cluster size %d < 1", c.MinClusterSize)
	case c.NumSpeakers < 0 || c.MinSpeakers < 0 || c.MaxSpeakers < 0:
		return errors.New("clustering: speaker counts must not be negative")
	case c.MaxSpeakers > 0 && c.MinSpeakers > c.MaxSpeakers:
		return fmt.Errorf("clustering: min speakers %d > max speakers %d", c.MinSpeakers, c.MaxSpeakers)
	case c.MaxItems != 0 && c.MaxItems < 16:
		return fmt.Errorf("clustering: max items %d < 16", c.MaxItems)
	}
	return nil
}

// merge records one AHC step: clusters a and b (indices into the working
// set) merged at distance d into a.
type merge struct {
	a, b int
	d    float64
}

// Cluster assigns each unit-length vector (row-major, n×dim) to a speaker and
// returns the labels (0…k-1) and the k unit-length centroids.
func Cluster(vecs []float32, dim int, cfg Config) ([]int, [][]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, nil, fmt.Errorf("clustering: %d values is not a multiple of dim %d", len(vecs), dim)
	}
	n := len(vecs) / dim
	if n == 0 {
		return nil, nil, nil
	}
	maxItems := cfg.MaxItems
	if maxItems == 0 {
		maxItems = 3000
	}
	// Working items: groups of original vectors with their summed vector.
	group, sums, counts := pregroup(vecs, dim, maxItems)
	merges := ahc(sums, counts, dim)

	labels, large := cutDendrogram(merges, counts, sums, n, cfg)
	centroids, groupLabel := centroidsOf(labels, large, sums, dim)
	out := make([]int, n)
	for i := range n {
		out[i] = groupLabel[group[i]]
	}
	return out, centroids, nil
}

// cutDendrogram chooses the clusters of the m = len(counts) working items
// (sums: their summed vectors): by threshold, then by the size rules
// (speakerClusters) and the count constraints (n is the number of original
// vectors). It returns each item's cluster label and the labels of the
// large clusters, biggest first.
func cutDendrogram(merges []merge, counts []float64, sums []float32, n int, cfg Config) ([]int, []int) {
	m := len(counts)
	cut := func(k int) []int { return applyMerges(m, merges, m-k) }
	// Centroid linkage can invert (a later merge at a smaller distance), so
	// count merges in order until the first one above the threshold.
	applied := 0
	for _, mg := range merges {
		if mg.d > cfg.Threshold {
			break
		}
		applied++
	}
	labels := applyMerges(m, merges, applied)
	large := speakerClusters(labels, counts, sums, n, cfg)
	k := len(large)
	want := k
	switch {
	case cfg.NumSpeakers > 0:
		want = cfg.NumSpeakers
	case k < cfg.MinSpeakers:
		want = cfg.MinSpeakers
	case cfg.MaxSpeakers > 0 && k > cfg.MaxSpeakers:
		want = cfg.MaxSpeakers
	case k == 0:
		want = 1
	}
	want = min(want, n)
	if want == k && k != 0 {
		return labels, large
	}
	// Re-cut the dendrogram: the fewest clusters that hold want large ones,
	// so that outliers do not count as speakers; failing that, exactly want
	// clusters.
	large = nil
	for c := want; c <= m && len(large) < want; c++ {
		labels = cut(c)
		large = largeClusters(labels, counts, cfg.MinClusterSize)
	}
	if len(large) < want {
		labels = cut(want)
		large = largeClusters(labels, counts, 1)
	}
	return labels, large[:want]
}

// centroidsOf returns the unit centroids of the large clusters and each
// working item's speaker: its own cluster's when that is large, else the
// nearest centroid's.
func centroidsOf(labels, large []int, sums []float32, dim int) ([][]float32, []int) {
	m := len(labels)
	centroids := make([][]float32, len(large))
	index := map[int]int{}
	for i, l := range large {
		index[l] = i
		centroids[i] = make([]float32, dim)
	}
	for g := range m {
		if i, ok := index[labels[g]]; ok {
			addTo(centroids[i], sums[g*dim:(g+1)*dim])
		}
	}
	for _, c := range centroids {
		embedding.Normalize(c)
	}
	groupLabel := make([]int, m)
	for g := range m {
		if i, ok := index[labels[g]]; ok {
			groupLabel[g] = i
			continue
		}
		groupLabel[g] = nearest(sums[g*dim:(g+1)*dim], centroids)
	}
	return centroids, groupLabel
}

// largeClusters returns the cluster labels whose total count ≥ minSize,
// biggest first.
func largeClusters(labels []int, counts []float64, minSize int) []int {
	size := clusterSizes(labels, counts)
	var large []int
	for l, s := range size {
		if s >= float64(minSize) {
			large = append(large, l)
		}
	}
	sortBySize(large, size)
	return large
}

func clusterSizes(labels []int, counts []float64) map[int]float64 {
	size := map[int]float64{}
	for g, l := range labels {
		size[l] += counts[g]
	}
	return size
}

// sortBySize orders cluster labels biggest first (ties by label).
func sortBySize(ls []int, size map[int]float64) {
	sort.Slice(ls, func(i, j int) bool {
		if size[ls[i]] != size[ls[j]] {
			return size[ls[i]] > size[ls[j]]
		}
		return ls[i] < ls[j]
	})
}

// pyannoteMaxSize caps the size bar of speakerClusters: pyannote.audio
// 3.1's AgglomerativeClustering keeps a cluster of fewer than
// min(12, round(0.1 × embeddings)) embeddings only as a part of its nearest
// large one.
const pyannoteMaxSize = 12

// speakerClusters returns the clusters that are speakers, biggest first:
// every cluster of at least pyannote's size bar (pyannoteMaxSize, and never
// under MinClusterSize), and a smaller one of at least MinClusterSize only
// when its voice is no closer to any of those large clusters than the two
// most alike large clusters are to each other. With fewer than two large
// clusters there is no such measure, and MinClusterSize alone decides.
//
// Why: a long recording gathers small clusters of one speaker's odd pairs
// (a turn's edge, a laugh) beside its large one; with MinClusterSize alone
// each became a speaker, and long two-speaker conversations came out with
// 3–5 (the bench's calls part; the unseen telephone calls showed the same).
// pyannote's size bar alone merged away dev's real short speakers (sim03's
// two 7 s voices). Those lie farther from their nearest large speaker
// (cosine 0.49–0.66 on dev) than the calls' fragments (0.65–0.77), but no
// fixed cosine holds across recordings; the recording's own most alike
// pair of distinct speakers does (BENCHMARKS.md "Issue 20: small clusters
// measured against the recording's own speakers").
func speakerClusters(labels []int, counts []float64, sums []float32, n int, cfg Config) []int {
	bar := max(cfg.MinClusterSize, min(pyannoteMaxSize, int(math.Round(0.1*float64(n)))))
	large := largeClusters(labels, counts, bar)
	if len(large) < 2 {
		return largeClusters(labels, counts, cfg.MinClusterSize)
	}
	dim := len(sums) / len(labels)
	centroid := map[int][]float32{}
	for g, l := range labels {
		if centroid[l] == nil {
			centroid[l] = make([]float32, dim)
		}
		addTo(centroid[l], sums[g*dim:(g+1)*dim])
	}
	for _, c := range centroid {
		embedding.Normalize(c)
	}
	closest := func(c []float32, among []int) float64 {
		best := math.Inf(-1)
		for _, l := range among {
			best = math.Max(best, embedding.Cosine(c, centroid[l]))
		}
		return best
	}
	between := math.Inf(-1)
	for i, l := range large {
		between = math.Max(between, closest(centroid[l], large[i+1:]))
	}
	size := clusterSizes(labels, counts)
	out := append([]int(nil), large...)
	for _, l := range largeClusters(labels, counts, cfg.MinClusterSize) {
		if size[l] < float64(bar) && closest(centroid[l], large) <= between {
			out = append(out, l)
		}
	}
	sortBySize(out, size)
	return out
}

// applyMerges replays the first k merges and returns each item's cluster
// (the index of the item that survived as the cluster's representative).
func applyMerges(m int, merges []merge, k int) []int {
	parent := make([]int, m)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, mg := range merges[:k] {
		parent[find(mg.b)] = find(mg.a)
	}
	labels := make([]int, m)
	for i := range labels {
		labels[i] = find(i)
	}
	return labels
}

// ahc runs centroid-linkage agglomerative clustering to a single cluster and
// returns the merges in order. Items are summed vectors with counts, so a
// cluster's centroid is the count-weighted mean of its members, as in scipy's
// centroid linkage; distances are Euclidean between those centroids.
func ahc(sums []float32, counts []float64, dim int) []merge {
	m := len(counts)
	cent := make([]float64, m*dim)
	for i := range m {
		for j := range dim {
			cent[i*dim+j] = float64(sums[i*dim+j]) / counts[i]
		}
	}
	w := append([]float64(nil), counts...)
	alive := make([]bool, m)
	for i := range alive {
		alive[i] = true
	}
	dist := make([]float32, m*m)
	for i := range m {
		for j := i + 1; j < m; j++ {
			d := float32(euclid(cent[i*dim:(i+1)*dim], cent[j*dim:(j+1)*dim]))
			dist[i*m+j], dist[j*m+i] = d, d
		}
	}
	// nn[i] caches the nearest live neighbour of i, so a merge only rescans
	// the rows that pointed at the merged pair.
	nn := make([]int, m)
	nnd := make([]float32, m)
	rowMin := func(i int) {
		nn[i], nnd[i] = -1, float32(math.Inf(1))
		row := dist[i*m : (i+1)*m]
		for j, d := range row {
			if j != i && alive[j] && d < nnd[i] {
				nn[i], nnd[i] = j, d
			}
		}
	}
	for i := range m {
		rowMin(i)
	}
	merges := make([]merge, 0, m-1)
	for range m - 1 {
		a := -1
		for i := range m {
			if alive[i] && nn[i] >= 0 && (a < 0 || nnd[i] < nnd[a]) {
				a = i
			}
		}
		if a < 0 {
			break
		}
		b := nn[a]
		if b < a {
			a, b = b, a
		}
		merges = append(merges, merge{a: a, b: b, d: float64(dist[a*m+b])})
		// Merge b into a: weighted centroid.
		wa, wb := w[a], w[b]
		ca, cb := cent[a*dim:(a+1)*dim], cent[b*dim:(b+1)*dim]
		for j := range dim {
			ca[j] = (wa*ca[j] + wb*cb[j]) / (wa + wb)
		}
		w[a] = wa + wb
		alive[b] = false
		for j := range m {
			if alive[j] && j != a {
				d := float32(euclid(ca, cent[j*dim:(j+1)*dim]))
				dist[a*m+j], dist[j*m+a] = d, d
			}
		}
		rowMin(a)
		for j := range m {
			if !alive[j] || j == a {
				continue
			}
			switch {
			case nn[j] == a || nn[j] == b:
				rowMin(j)
			case dist[j*m+a] < nnd[j]:
				nn[j], nnd[j] = a, dist[j*m+a]
			}
		}
	}
	return merges
}

// pregroup merges vectors into at most maxItems groups by leader clustering
// with a distance that grows until the count fits. Returns each vector's
// group, the groups' summed vectors and their counts.
func pregroup(vecs []float32, dim, maxItems int) ([]int, []float32, []float64) {
	n := len(vecs) / dim
	if n <= maxItems {
		group := make([]int, n)
		counts := make([]float64, n)
		for i := range n {
			group[i], counts[i] = i, 1
		}
		return group, append([]float32(nil), vecs...), counts
	}
	for radius := 0.2; ; radius *= 1.25 {
		group := make([]int, n)
		var leaders []int
		for i := range n {
			v := vecs[i*dim : (i+1)*dim]
			best, bd := -1, radius
			for li, l := range leaders {
				if d := euclid32(v, vecs[l*dim:(l+1)*dim]); d < bd {
					best, bd = li, d
				}
			}
			if best < 0 {
				if len(leaders) == maxItems {
					break
				}
				best = len(leaders)
				leaders = append(leaders, i)
			}
			group[i] = best
			if i == n-1 {
				sums := make([]float32, len(leaders)*dim)
				counts := make([]float64, len(leaders))
				for k := range n {
					addTo(sums[group[k]*dim:(group[k]+1)*dim], vecs[k*dim:(k+1)*dim])
					counts[group[k]]++
				}
				return group, sums, counts
			}
		}
	}
}

func euclid(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

func euclid32(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func addTo(dst, v []float32) {
	for i := range dst {
		dst[i] += v[i]
	}
}

// nearest returns the index of the centroid with the highest cosine
// similarity to v.
func nearest(v []float32, centroids [][]float32) int {
	best, bs := 0, math.Inf(-1)
	for i, c := range centroids {
		var s float64
		for j := range v {
			s += float64(v[j]) * float64(c[j])
		}
		if s > bs {
			best, bs = i, s
		}
	}
	return best
}
