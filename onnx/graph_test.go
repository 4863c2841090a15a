package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/whospoke/whospoke/internal/testenv"
)

// TestGraphRoundTrip: a real model file parsed and encoded again parses
// to the same nodes and inputs, and the attributes the Whisper rewrite
// reads decode to the values the file holds.
func TestGraphRoundTrip(t *testing.T) {
	const name = "whisper-tiny.en"
	data, err := os.ReadFile(filepath.Join(testenv.ModelsDir(name), name, "decoder.int8.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{data[:len(data)/2], {0xff, 0xff}, nil} {
		if _, err := ParseGraph(bad); err == nil {
			t.Errorf("ParseGraph of %d malformed bytes: no error", len(bad))
		}
	}
	out := g.Marshal()
	if len(out) != len(data) {
		t.Errorf("re-encoded %d bytes, file has %d", len(out), len(data))
	}
	h, err := ParseGraph(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Nodes) != len(g.Nodes) || len(h.Inputs) != 6 || len(h.Outputs) != 4 || len(h.ValueInfo) != len(g.ValueInfo) {
		t.Fatalf("%d nodes, %d inputs, %d value infos; want %d, 6, %d", len(h.Nodes), len(h.Inputs), len(h.ValueInfo), len(g.Nodes), len(g.ValueInfo))
	}
	var perms [][]int64
	consts := map[int64]int{}
	for i, n := range h.Nodes {
		m := g.Nodes[i]
		if n.Name != m.Name || n.Op != m.Op || !slices.Equal(n.Inputs, m.Inputs) || !slices.Equal(n.Outputs, m.Outputs) {
			t.Fatalf("node %d: %+v, want %+v", i, n, m)
		}
		if n.Op == "Transpose" {
			p, err := n.AttrInts("perm")
			if err != nil {
				t.Fatal(err)
			}
			perms = append(perms, p)
		}
		if c, err := n.ConstInt64(); err == nil {
			consts[c]++
		}
	}
	if !slices.ContainsFunc(perms, func(p []int64) bool { return slices.Equal(p, []int64{0, 2, 1, 3}) }) {
		t.Errorf("no Transpose with perm [0 2 1 3] among %v", perms)
	}
	for l := range int64(4) { // the layer indices of the cross-attention Gathers
		if consts[l] == 0 {
			t.Errorf("no int64 constant %d", l)
		}
	}
}
