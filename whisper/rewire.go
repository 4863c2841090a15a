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
// same 2 × L × ctx × D values copied four times per token, 39 % of a
// one-token step's time (docs/TRANSCRIPTION_BENCH.md § 10). Its
// self-attention caches are stacked too, [L, 1, 448, D], split into layers
// and concatenated back at every step. rewireDecoder changes the graph at
// load time so that each layer's attention matmuls read per-window inputs
// already in their layout, which crossLayout fills once per window, and
// each layer reads and writes its own cache: the operations see the same
// values, so the logits are bit for bit the same (TestRewiredDecoderIsExact).

// decoderNames are the rewired decoder's inputs and outputs, in the order
// step passes them: per layer l, caches self_k_<l> / self_v_<l> [1, 448, D]
// in and new_self_k_<l> / new_self_v_<l> out, and cross-attention
// cross_k_<l> [1, H, d_head, ctx] (scaled) and cross_v_<l> [1, H, ctx, d_head].
func decoderNames(layers int) (inputs, outputs []string) {
	each := func(prefix ...string) []string {
		var names []string
		for _, p := range prefix {
			for l := range layers {
				names = append(names, fmt.Sprintf("%s_%d", p, l))
			}
		}
		return names
	}
	inputs = slices.Concat([]string{"tokens"}, each("self_k", "self_v", "cross_k", "cross_v"), []string{"offset", "logit_rows"})
	outputs = slices.Concat([]string{"logits"}, each("new_self_k", "new_self_v"), []string{"alignment_qk"})
	return inputs, outputs
}

// rewireDecoder rewires the decoder model in data as described above, or
// fails when the graph is not the export it expects (then the caller keeps
// the original).
func rewireDecoder(data []byte, layers, heads, state int) ([]byte, error) {
	g, err := onnx.ParseGraph(data)
	if err != nil {
		return nil, err
	}
	if err := perLayerCross(g, layers, heads, state/heads); err != nil {
		return nil, err
	}
	if err := perLayerCaches(g, layers, state); err != nil {
		return nil, err
	}
	g.Prune() // the stacked caches' Concats, which still read each layer's cache
	if err := cacheLayout(g, layers, heads, state/heads); err != nil {
		return nil, err
	}
	if err := logitRows(g); err != nil {
		return nil, err
	}
	g.Prune()
	cons := g.Consumers()
	for _, stacked := range []string{"cross_k", "cross_v", "self_k_cache", "self_v_cache"} {
		if len(cons[stacked]) > 0 {
			return nil, fmt.Errorf("whisper: the decoder still reads %s", stacked)
		}
	}
	return g.Marshal(), nil
}

// perLayerCross points each layer's cross-attention MatMuls at the inputs
// cross_k_<l>, cross_v_<l>.
func perLayerCross(g *onnx.Graph, layers, heads, headDim int) error {
	prod, cons := g.Producers(), g.Consumers()
	for _, kv := range []struct {
		input string
		chain []string // ops from the layer's Gather to its MatMul
		perms [][]int64
	}{
		{"cross_k", []string{"Reshape", "Transpose", "Mul", "Transpose"}, [][]int64{{0, 2, 1, 3}, {0, 1, 3, 2}}},
		{"cross_v", []string{"Reshape", "Transpose"}, [][]int64{{0, 2, 1, 3}}},
	} {
		err := eachLayer(kv.input, layers, cons, prod, func(l int, gather *onnx.Node) error {
			matmul, err := followChain(gather, kv.chain, kv.perms, cons)
			if err == nil {
				matmul.Inputs[1] = fmt.Sprintf("%s_%d", kv.input, l)
			}
			return err
		})
		if err != nil {
			return err
		}
		dims := []any{"batch", heads, headDim, "n_audio_ctx"}
		if kv.input == "cross_v" {
			dims = []any{"batch", heads, "n_audio_ctx", headDim}
		}
		for l := range layers {
			g.Inputs = append(g.Inputs, onnx.TensorValue(fmt.Sprintf("%s_%d", kv.input, l), onnx.TensorFloat, dims...))
		}
	}
	g.Inputs = slices.DeleteFunc(g.Inputs, func(vi onnx.ValueInfo) bool { return vi.Name == "cross_k" || vi.Name == "cross_v" })
	return nil
}

// perLayerCaches makes each layer's cache update, Gather(cache, l) →
// ScatterElements (the new positions written in), read self_k_<l> and
// write new_self_k_<l> (and v), in place of the stacked caches.
func perLayerCaches(g *onnx.Graph, layers, state int) error {
	prod, cons := g.Producers(), g.Consumers()
	for _, kv := range []string{"self_k", "self_v"} {
		err := eachLayer(kv+"_cache", layers, cons, prod, func(l int, gather *onnx.Node) error {
			next := cons[gather.Outputs[0]]
			if len(next) != 1 || next[0].Op != "ScatterElements" || next[0].Inputs[0] != gather.Outputs[0] || len(next[0].Outputs) != 1 {
				return fmt.Errorf("whisper: %s does not feed one ScatterElements", gather.Name)
			}
			next[0].Inputs[0] = fmt.Sprintf("%s_%d", kv, l)
			g.Rename(next[0].Outputs[0], fmt.Sprintf("new_%s_%d", kv, l))
			return nil
		})
		if err != nil {
			return err
		}
		for l := range layers {
			g.Inputs = append(g.Inputs, onnx.TensorValue(fmt.Sprintf("%s_%d", kv, l), onnx.TensorFloat, "batch", TextCtx, state))
			g.Outputs = append(g.Outputs, onnx.TensorValue(fmt.Sprintf("new_%s_%d", kv, l), onnx.TensorFloat, "batch", TextCtx, state))
		}
	}
	g.Inputs = slices.DeleteFunc(g.Inputs, func(vi onnx.ValueInfo) bool { return vi.Name == "self_k_cache" || vi.Name == "self_v_cache" })
	g.Outputs = slices.DeleteFunc(g.Outputs, func(vi onnx.ValueInfo) bool {
		return vi.Name == "new_self_k_cache" || vi.Name == "new_self_v_cache"
	})
	return nil
}

// cacheLayout keeps each layer's self-attention cache in the layout its
// attention matmul reads: keys [1, H, d_head, 448] already scaled by
// d_head^-¼, values [1, H, 448, d_head]. The export keeps [1, 448, D] and at
// every step reshapes, transposes (twice for keys) and scales the whole
// cache; now only the step's new positions are, before the
// ScatterElements writes them in (along the position axis, with their
// indices moved the same way). Every element the matmuls read is the same
// float32 as before (the same product k·s), so the logits are the same
// bits (TestRewiredDecoderIsExact).
func cacheLayout(g *onnx.Graph, layers, heads, headDim int) error {
	shape := "cache_update_shape"
	g.Nodes = slices.Insert(g.Nodes, 0, onnx.NewNode("Constant", shape, nil, []string{shape},
		onnx.Int64sAttr("value", 0, -1, int64(heads), int64(headDim))))
	for _, kv := range []struct {
		name   string
		chain  []string
		perms  [][]int64
		perm   []int64 // of an update [1, T, H, d_head] into the new layout
		axis   int64   // positions' axis in the new layout
		scaled bool    // the chain scales the cache (keys)
		layout []any
	}{
		{"self_k", []string{"Reshape", "Transpose", "Mul", "Transpose"}, [][]int64{{0, 2, 1, 3}, {0, 1, 3, 2}}, []int64{0, 2, 3, 1}, 3, true, []any{"batch", heads, headDim, TextCtx}},
		{"self_v", []string{"Reshape", "Transpose"}, [][]int64{{0, 2, 1, 3}}, []int64{0, 2, 1, 3}, 2, false, []any{"batch", heads, TextCtx, headDim}},
	} {
		for l := range layers {
			if err := relayCache(g, fmt.Sprintf("new_%s_%d", kv.name, l), shape, kv.chain, kv.perms, kv.perm, kv.axis, kv.scaled); err != nil {
				return err
			}
			for _, vis := range []*[]onnx.ValueInfo{&g.Inputs, &g.Outputs} {
				for i, vi := range *vis {
					if name := vi.Name; name == fmt.Sprintf("%s_%d", kv.name, l) || name == fmt.Sprintf("new_%s_%d", kv.name, l) {
						(*vis)[i] = onnx.TensorValue(name, onnx.TensorFloat, kv.layout...)
					}
				}
			}
		}
	}
	return nil
}

// relayCache rewires one cache (see cacheLayout): the ScatterElements that
// writes cache gets its update and indices reshaped by shape, transposed
// by perm and (scaled: keys) multiplied by the chain's factor, writes
// along axis, and the matmul at the end of chain reads the cache itself.
func relayCache(g *onnx.Graph, cache, shape string, chain []string, perms [][]int64, perm []int64, axis int64, scaled bool) error {
	prod, cons := g.Producers(), g.Consumers()
	scatter := prod[cache]
	if scatter == nil || scatter.Op != "ScatterElements" || len(scatter.Inputs) != 3 {
		return fmt.Errorf("whisper: %s is not written by a ScatterElements", cache)
	}
	if a, err := scatter.AttrInt("axis", 0); err != nil || a != 1 {
		return errors.Join(fmt.Errorf("whisper: %s is not scattered along its positions", cache), err)
	}
	matmul, err := followChain(scatter, chain, perms, cons)
	if err != nil {
		return fmt.Errorf("%s: %w", cache, err)
	}
	moved := func(what, input string) (string, []*onnx.Node) {
		r, t := cache+"_"+what+"_reshaped", cache+"_"+what+"_moved"
		return t, []*onnx.Node{
			onnx.NewNode("Reshape", r, []string{input, shape}, []string{r}),
			onnx.NewNode("Transpose", t, []string{r}, []string{t}, onnx.IntsAttr("perm", perm...)),
		}
	}
	idx, idxNodes := moved("indices", scatter.Inputs[1])
	upd, updNodes := moved("update", scatter.Inputs[2])
	nodes := slices.Concat(idxNodes, updNodes)
	if scaled { // by the factor of the chain's Mul, before its last Transpose
		mul := prod[prod[matmul.Inputs[1]].Inputs[0]]
		if mul == nil || mul.Op != "Mul" || prod[mul.Inputs[0]] == nil || prod[mul.Inputs[0]].Op != "Transpose" {
			return fmt.Errorf("whisper: %s's keys are not scaled by the chain's Mul", cache)
		}
		out := cache + "_update_scaled"
		nodes = append(nodes, onnx.NewNode("Mul", out, []string{upd, mul.Inputs[1]}, []string{out}))
		upd = out
	}
	scatter.Inputs[1], scatter.Inputs[2] = idx, upd
	if err := scatter.SetAttr(onnx.IntAttr("axis", axis)); err != nil {
		return err
	}
	matmul.Inputs[1] = cache
	g.Nodes = slices.Insert(g.Nodes, slices.Index(g.Nodes, scatter), nodes...)
	return nil
}

// logitRows makes the decoder project only the positions listed in a new
// input, logit_rows ([K] int64), onto the vocabulary: logits become
// [1, K, vocab]. A prompt prefill needs two rows of its T (the
// no-speech probability at <|startoftranscript|> and the next token), and
// the projection onto 51,864 tokens is two thirds of a position's
// multiply-adds. The rows are picked from the activations after their
// dynamic quantisation, whose scale still comes from all T rows, so the
// rows kept are the same bits as before (TestRewiredDecoderIsExact).
func logitRows(g *onnx.Graph) error {
	prod := g.Producers()
	mul, ok := prod["logits"]
	var cast, mm *onnx.Node
	if ok && mul.Op == "Mul" {
		cast = prod[mul.Inputs[0]]
	}
	if cast != nil && cast.Op == "Cast" {
		mm = prod[cast.Inputs[0]]
	}
	if mm == nil || mm.Op != "MatMulInteger" || len(mm.Inputs) < 1 {
		return errors.New("whisper: logits are not Mul(Cast(MatMulInteger(…)))")
	}
	if q := prod[mm.Inputs[0]]; q == nil || q.Op != "DynamicQuantizeLinear" {
		return errors.New("whisper: the logits' MatMulInteger does not read quantized activations")
	}
	rows := mm.Inputs[0] + "_rows"
	gather := onnx.NewNode("Gather", "logit_rows_gather", []string{mm.Inputs[0], "logit_rows"}, []string{rows}, onnx.IntAttr("axis", 1))
	mm.Inputs[0] = rows
	i := slices.Index(g.Nodes, mm)
	g.Nodes = slices.Insert(g.Nodes, i, gather)
	g.Inputs = append(g.Inputs, onnx.TensorValue("logit_rows", onnx.TensorInt64, "n_logit_rows"))
	return nil
}

// eachLayer calls f for each Gather(input, l) of the graph, which must be
// all that reads input, once per layer.
func eachLayer(input string, layers int, cons map[string][]*onnx.Node, prod map[string]*onnx.Node, f func(l int, gather *onnx.Node) error) error {
	seen := make([]bool, layers)
	for _, gather := range cons[input] {
		l, err := layerOf(gather, prod)
		if err != nil || l < 0 || l >= layers || seen[l] {
			return errors.Join(fmt.Errorf("whisper: %s read by %s, not one layer's Gather", input, gather.Name), err)
		}
		seen[l] = true
		if err := f(l, gather); err != nil {
			return err
		}
	}
	if slices.Contains(seen, false) {
		return fmt.Errorf("whisper: %s is not read for every layer", input)
	}
	return nil
}

// layerOf returns the layer a Gather(x, constant, axis 0) picks.
func layerOf(gather *onnx.Node, prod map[string]*onnx.Node) (int, error) {
	if gather.Op != "Gather" || len(gather.Inputs) != 2 || len(gather.Outputs) != 1 {
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
			if n.Op != "MatMul" || len(n.Inputs) != 2 || n.Inputs[1] != cur.Outputs[0] {
				return nil, fmt.Errorf("whisper: %s ends at %s, not a MatMul's second input", from.Name, n.Name)
			}
			return n, nil
		}
		if n.Op != chain[i] {
			return nil, fmt.Errorf("whisper: %s after %s, want %s", n.Op, cur.Name, chain[i])
		}
		if len(n.Outputs) == 0 || n.Op == "Reshape" && n.Inputs[0] != cur.Outputs[0] {
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
// graph's own factor, the same float32) and transposed to
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
	if !m.rewired {
		return []ort.Value{e.k, e.v}
	}
	vs := make([]ort.Value, len(e.layered))
	for i, t := range e.layered {
		vs[i] = t
	}
	return vs
}
