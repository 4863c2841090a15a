package whisper

import (
	"errors"
	"fmt"
	"math"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/whospoke/whospoke/onnx"
)

// The exported decoder takes every layer's cross-attention keys and values
// stacked, [L, 1, ctx, D], and at every step slices out each layer's,
// splits the heads, scales the keys by d_head^-¼ and transposes them: the
// same 2 × L × ctx × D values copied four times per token, 40 % of a
// one-token step's time (docs/TRANSCRIPTION_BENCH.md § 10). hoistCrossAttention
// rewires the graph at load time so that each layer's attention matmuls
// read per-window inputs already in their layout, which crossLayout fills
// once per window: the matmuls see the same values, so the logits are bit
// for bit the same (TestHoistedDecoderIsExact).

// crossInputNames are the rewired decoder's per-layer inputs:
// cross_k_<l> [1, H, d_head, ctx] (scaled) and cross_v_<l> [1, H, ctx, d_head].
func crossInputNames(layers int) []string {
	var names []string
	for _, kv := range []string{"cross_k", "cross_v"} {
		for l := range layers {
			names = append(names, fmt.Sprintf("%s_%d", kv, l))
		}
	}
	return names
}

// hoistCrossAttention rewires the decoder model in data as described
// above, or fails when the graph is not the export it expects (then the
// caller keeps the original). outputs are the graph's output names.
func hoistCrossAttention(data []byte, layers, heads, headDim int, outputs []string) ([]byte, error) {
	g, err := onnx.ParseGraph(data)
	if err != nil {
		return nil, err
	}
	prod, cons := g.Producers(), g.Consumers()
	for _, kv := range []struct {
		input string
		chain []string // ops from the layer's Gather to its MatMul
		perms [][]int64
	}{
		{"cross_k", []string{"Reshape", "Transpose", "Mul", "Transpose"}, [][]int64{{0, 2, 1, 3}, {0, 1, 3, 2}}},
		{"cross_v", []string{"Reshape", "Transpose"}, [][]int64{{0, 2, 1, 3}}},
	} {
		seen := make([]bool, layers)
		for _, gather := range cons[kv.input] {
			l, err := layerOf(gather, prod)
			if err != nil || l < 0 || l >= layers || seen[l] {
				return nil, errors.Join(fmt.Errorf("whisper: %s read by %s, not one layer's Gather", kv.input, gather.Name), err)
			}
			seen[l] = true
			matmul, err := followChain(gather, kv.chain, kv.perms, cons)
			if err != nil {
				return nil, err
			}
			matmul.Inputs[1] = fmt.Sprintf("%s_%d", kv.input, l)
		}
		if slices.Contains(seen, false) {
			return nil, fmt.Errorf("whisper: %s is not read for every layer", kv.input)
		}
	}
	g.Inputs = slices.DeleteFunc(g.Inputs, func(vi onnx.ValueInfo) bool { return vi.Name == "cross_k" || vi.Name == "cross_v" })
	for _, name := range crossInputNames(layers) {
		dims := []any{"batch", heads, headDim, "n_audio_ctx"}
		if name[:7] == "cross_v" {
			dims = []any{"batch", heads, "n_audio_ctx", headDim}
		}
		g.Inputs = append(g.Inputs, onnx.TensorInput(name, onnx.TensorFloat, dims...))
	}
	g.Prune(outputs...)
	cons = g.Consumers()
	if len(cons["cross_k"])+len(cons["cross_v"]) > 0 {
		return nil, errors.New("whisper: the decoder still reads the stacked cross-attention inputs")
	}
	return g.Marshal(), nil
}

// layerOf returns the layer a Gather(x, constant, axis 0) picks.
func layerOf(gather *onnx.Node, prod map[string]*onnx.Node) (int, error) {
	if gather.Op != "Gather" || len(gather.Inputs) != 2 {
		return 0, errors.New("not a Gather")
	}
	if axis, err := gather.AttrInt("axis", 0); err != nil || axis != 0 {
		return 0, errors.Join(errors.New("Gather not on axis 0"), err)
	}
	c, ok := prod[gather.Inputs[1]]
	if !ok {
		return 0, errors.New("Gather index is not a node's output")
	}
	l, err := c.ConstInt64()
	return int(l), err
}

// followChain walks from a layer's Gather along its data path (shape
// reads aside) through the ops in chain, checking the Transposes' perms,
// and returns the MatMul that reads the chain's end as its second input.
func followChain(from *onnx.Node, chain []string, perms [][]int64, cons map[string][]*onnx.Node) (*onnx.Node, error) {
	cur := from
	for i := 0; ; i++ {
		var next []*onnx.Node
		for _, n := range cons[cur.Outputs[0]] {
			if n.Op != "Shape" {
				next = append(next, n)
			}
		}
		if len(next) != 1 {
			return nil, fmt.Errorf("whisper: %s feeds %d nodes, want 1", cur.Name, len(next))
		}
		n := next[0]
		if i == len(chain) {
			if n.Op != "MatMul" || n.Inputs[1] != cur.Outputs[0] {
				return nil, fmt.Errorf("whisper: %s ends at %s, not a MatMul's second input", from.Name, n.Name)
			}
			return n, nil
		}
		if n.Op != chain[i] {
			return nil, fmt.Errorf("whisper: %s after %s, want %s", n.Op, cur.Name, chain[i])
		}
		if n.Op == "Reshape" && n.Inputs[0] != cur.Outputs[0] {
			return nil, fmt.Errorf("whisper: %s reshapes something else", n.Name)
		}
		if n.Op == "Transpose" {
			perm, err := n.AttrInts("perm")
			if err != nil || !slices.Equal(perm, perms[0]) {
				return nil, errors.Join(fmt.Errorf("whisper: %s has perm %v, want %v", n.Name, perm, perms[0]), err)
			}
			perms = perms[1:]
		}
		cur = n
	}
}

// crossLayout fills e's per-layer inputs of the rewired decoder from its
// stacked keys and values ([L, 1, ctx, D]): keys scaled by d_head^-¼ (the
// graph's own factor, computed as it does in float32) and transposed to
// [1, H, d_head, ctx], values to [1, H, ctx, d_head].
func (m *Model) crossLayout(e *encoded) error {
	L, H, D := m.mc.Dims.NTextLayer, m.mc.Dims.NTextHead, m.mc.Dims.NTextState
	dh, ctx := D/H, e.ctx
	if e.layered == nil {
		shapes := []ort.Shape{ort.NewShape(1, int64(H), int64(dh), int64(ctx)), ort.NewShape(1, int64(H), int64(ctx), int64(dh))}
		for i := range 2 * L {
			t, err := onnx.NewCTensor(shapes[i/L])
			if err != nil {
				e.releaseLayered()
				return err
			}
			e.layered = append(e.layered, t)
		}
	}
	scale := float32(math.Pow(float64(dh), -0.25))
	k, v := e.k.(float32Data).GetData(), e.v.(float32Data).GetData()
	for l := range L {
		src := l * ctx * D
		kt, vt := e.layered[l].GetData(), e.layered[L+l].GetData()
		for t := range ctx {
			row := k[src+t*D : src+(t+1)*D]
			for j, x := range row { // j = h*dh + d
				kt[j*ctx+t] = x * scale
			}
			row = v[src+t*D : src+(t+1)*D]
			for h := range H {
				copy(vt[(h*ctx+t)*dh:(h*ctx+t+1)*dh], row[h*dh:(h+1)*dh])
			}
		}
	}
	return nil
}

// float32Data is a float32 tensor, in Go memory or not (onnx.CTensor).
type float32Data interface{ GetData() []float32 }

// crossInputs are the decoder's cross-attention inputs for e.
func (m *Model) crossInputs(e *encoded) []ort.Value {
	if !m.hoisted {
		return []ort.Value{e.k, e.v}
	}
	vs := make([]ort.Value, len(e.layered))
	for i, t := range e.layered {
		vs[i] = t
	}
	return vs
}
