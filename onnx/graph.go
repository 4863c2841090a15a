package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Graph is an ONNX model file decoded just far enough to rewire its main
// graph: nodes, graph inputs, outputs and value infos are parsed;
// everything else (weights, opsets) is kept as the file's bytes. It lets a model
// wrapper change how a graph takes its inputs at load time, without a
// protobuf schema or a second model file.
type Graph struct {
	// model and rest are the ModelProto fields other than the graph and
	// the GraphProto fields other than nodes, inputs, outputs and value infos, as
	// slices of the file's bytes: the weights are not copied.
	model, rest [][]byte
	Nodes       []*Node
	Inputs      []ValueInfo
	Outputs     []ValueInfo
	ValueInfo   []ValueInfo
}

// Node is one NodeProto.
type Node struct {
	Name, Op        string
	Inputs, Outputs []string
	attrs           [][]byte // AttributeProto messages
	rest            []byte   // other fields
}

// ValueInfo is one ValueInfoProto: a named value and its encoded type.
type ValueInfo struct {
	Name string
	raw  []byte
}

// Field numbers of onnx.proto.
const (
	modelGraph      = 7
	graphNode       = 1
	graphInput      = 11
	graphOutput     = 12
	graphValueInfo  = 13
	nodeInput       = 1
	nodeOutput      = 2
	nodeName        = 3
	nodeOp          = 4
	nodeAttr        = 5
	attrName        = 1
	attrInt         = 3
	attrType        = 20
	attrTensor      = 5
	attrInts        = 8
	tensorDims      = 1
	tensorDataType  = 2
	tensorInt64Data = 7
	tensorRawData   = 9
	valueName       = 1
	valueType       = 2
	typeTensor      = 1
	tensorElemType  = 1
	tensorShape     = 2
	shapeDim        = 1
	dimValue        = 1
	dimParam        = 2
	// TensorFloat and TensorInt64 are TensorProto.DataType values.
	TensorFloat = 1
	TensorInt64 = 7
)

// AttributeProto.AttributeType values.
const (
	attrTypeInt    = 2
	attrTypeTensor = 4
	attrTypeInts   = 7
)

var errMalformed = errors.New("onnx: malformed model file")

// fields calls f on each field of a protobuf message.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return errMalformed
		}
		raw := b[:n+m]
		var v []byte
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(b[n:])
		}
		if err := f(num, typ, v, raw); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

// ParseGraph decodes a model file's bytes.
func ParseGraph(data []byte) (*Graph, error) {
	g := &Graph{}
	var graph []byte
	err := fields(data, func(num protowire.Number, typ protowire.Type, v, raw []byte) error {
		if num == modelGraph && typ == protowire.BytesType {
			graph = v
			return nil
		}
		g.model = append(g.model, raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		return nil, errors.New("onnx: model file has no graph")
	}
	err = fields(graph, func(num protowire.Number, typ protowire.Type, v, raw []byte) error {
		switch {
		case typ != protowire.BytesType:
		case num == graphNode:
			n, err := parseNode(v)
			g.Nodes = append(g.Nodes, n)
			return err
		case num == graphInput || num == graphOutput || num == graphValueInfo:
			vi, err := parseValueInfo(v)
			switch num {
			case graphInput:
				g.Inputs = append(g.Inputs, vi)
			case graphOutput:
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo = append(g.ValueInfo, vi)
			}
			return err
		}
		g.rest = append(g.rest, raw)
		return nil
	})
	return g, err
}

func parseNode(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v, raw []byte) error {
		switch {
		case typ != protowire.BytesType:
			n.rest = append(n.rest, raw...)
		case num == nodeInput:
			n.Inputs = append(n.Inputs, string(v))
		case num == nodeOutput:
			n.Outputs = append(n.Outputs, string(v))
		case num == nodeName:
			n.Name = string(v)
		case num == nodeOp:
			n.Op = string(v)
		case num == nodeAttr:
			n.attrs = append(n.attrs, v)
		default:
			n.rest = append(n.rest, raw...)
		}
		return nil
	})
	return n, err
}

// Attr is an encoded AttributeProto, for NewNode and SetAttr.
type Attr []byte

// attrHead is an attribute's name and type fields.
func attrHead(name string, typ uint64) []byte {
	var a []byte
	a = protowire.AppendTag(a, attrName, protowire.BytesType)
	a = protowire.AppendString(a, name)
	a = protowire.AppendTag(a, attrType, protowire.VarintType)
	return protowire.AppendVarint(a, typ)
}

// IntAttr is an integer attribute (e.g. an axis).
func IntAttr(name string, v int64) Attr {
	a := attrHead(name, attrTypeInt)
	a = protowire.AppendTag(a, attrInt, protowire.VarintType)
	return protowire.AppendVarint(a, uint64(v))
}

// IntsAttr is a list-of-integers attribute (e.g. a Transpose's perm).
func IntsAttr(name string, vs ...int64) Attr {
	a := attrHead(name, attrTypeInts)
	for _, v := range vs {
		a = protowire.AppendTag(a, attrInts, protowire.VarintType)
		a = protowire.AppendVarint(a, uint64(v))
	}
	return a
}

// Int64sAttr is a one-dimensional int64 tensor attribute (a Constant's
// value).
func Int64sAttr(name string, vs ...int64) Attr {
	var t []byte
	t = protowire.AppendTag(t, tensorDims, protowire.VarintType)
	t = protowire.AppendVarint(t, uint64(len(vs)))
	t = protowire.AppendTag(t, tensorDataType, protowire.VarintType)
	t = protowire.AppendVarint(t, TensorInt64)
	var packed []byte
	for _, v := range vs {
		packed = protowire.AppendVarint(packed, uint64(v))
	}
	t = appendBytes(t, tensorInt64Data, packed)
	return appendBytes(attrHead(name, attrTypeTensor), attrTensor, t)
}

// NewNode is a node of operator op with the given attributes.
func NewNode(op, name string, inputs, outputs []string, attrs ...Attr) *Node {
	n := &Node{Name: name, Op: op, Inputs: inputs, Outputs: outputs}
	for _, a := range attrs {
		n.attrs = append(n.attrs, a)
	}
	return n
}

// SetAttr sets an attribute, replacing the node's attribute of that name.
func (n *Node) SetAttr(a Attr) error {
	name, err := attrNameOf(a)
	if err != nil {
		return err
	}
	for i, old := range n.attrs {
		if got, err := attrNameOf(old); err != nil {
			return err
		} else if got == name {
			n.attrs[i] = a
			return nil
		}
	}
	n.attrs = append(n.attrs, a)
	return nil
}

// attrNameOf is an encoded AttributeProto's name.
func attrNameOf(a []byte) (string, error) {
	var name string
	err := fields(a, func(num protowire.Number, _ protowire.Type, v, _ []byte) error {
		if num == attrName {
			name = string(v)
		}
		return nil
	})
	return name, err
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	vi := ValueInfo{raw: b}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v, _ []byte) error {
		if num == valueName && typ == protowire.BytesType {
			vi.Name = string(v)
		}
		return nil
	})
	return vi, err
}

// TensorValue is a graph input or output of element type elem
// (TensorFloat, …) and the given dimensions: a number, or a name ("batch")
// for a free one.
func TensorValue(name string, elem int, dims ...any) ValueInfo {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		switch d := d.(type) {
		case int:
			dim = protowire.AppendTag(dim, dimValue, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		case string:
			dim = protowire.AppendTag(dim, dimParam, protowire.BytesType)
			dim = protowire.AppendString(dim, d)
		}
		shape = appendBytes(shape, shapeDim, dim)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, tensorElemType, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(elem))
	tensor = appendBytes(tensor, tensorShape, shape)
	var raw []byte
	raw = protowire.AppendTag(raw, valueName, protowire.BytesType)
	raw = protowire.AppendString(raw, name)
	raw = appendBytes(raw, valueType, appendBytes(nil, typeTensor, tensor))
	return ValueInfo{Name: name, raw: raw}
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// Marshal encodes the model again, into one buffer of its exact size
// (a model is mostly weights: tens of megabytes).
func (g *Graph) Marshal() []byte {
	nodes := make([][]byte, len(g.Nodes))
	size := 0
	for i, n := range g.Nodes {
		nodes[i] = n.marshal()
		size += protowire.SizeTag(graphNode) + protowire.SizeBytes(len(nodes[i]))
	}
	for _, r := range g.rest {
		size += len(r)
	}
	for _, vi := range slices.Concat(g.Inputs, g.Outputs, g.ValueInfo) {
		size += protowire.SizeTag(graphInput) + protowire.SizeBytes(len(vi.raw))
	}
	total := protowire.SizeTag(modelGraph) + protowire.SizeBytes(size)
	for _, r := range g.model {
		total += len(r)
	}
	b := make([]byte, 0, total)
	for _, r := range g.model {
		b = append(b, r...)
	}
	b = protowire.AppendTag(b, modelGraph, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	for _, n := range nodes {
		b = appendBytes(b, graphNode, n)
	}
	for _, r := range g.rest {
		b = append(b, r...)
	}
	for _, vi := range g.Inputs {
		b = appendBytes(b, graphInput, vi.raw)
	}
	for _, vi := range g.Outputs {
		b = appendBytes(b, graphOutput, vi.raw)
	}
	for _, vi := range g.ValueInfo {
		b = appendBytes(b, graphValueInfo, vi.raw)
	}
	return b
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.Outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	if n.Name != "" {
		b = protowire.AppendTag(b, nodeName, protowire.BytesType)
		b = protowire.AppendString(b, n.Name)
	}
	b = protowire.AppendTag(b, nodeOp, protowire.BytesType)
	b = protowire.AppendString(b, n.Op)
	for _, a := range n.attrs {
		b = appendBytes(b, nodeAttr, a)
	}
	return append(b, n.rest...)
}

// attr returns the named attribute's fields, or nil.
func (n *Node) attr(name string) (map[protowire.Number][][]byte, error) {
	for _, a := range n.attrs {
		fs := map[protowire.Number][][]byte{}
		var got string
		err := fields(a, func(num protowire.Number, typ protowire.Type, v, raw []byte) error {
			if num == attrName {
				got = string(v)
			}
			if typ == protowire.BytesType {
				fs[num] = append(fs[num], v)
			} else {
				fs[num] = append(fs[num], raw)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if got == name {
			return fs, nil
		}
	}
	return nil, nil
}

// AttrInt returns an integer attribute, or def when the node has none.
func (n *Node) AttrInt(name string, def int64) (int64, error) {
	fs, err := n.attr(name)
	if err != nil || fs == nil || len(fs[attrInt]) == 0 {
		return def, err
	}
	v, err := varintField(fs[attrInt][0])
	return int64(v), err
}

// AttrInts returns an integer-list attribute (nil when absent).
func (n *Node) AttrInts(name string) ([]int64, error) {
	fs, err := n.attr(name)
	if err != nil || fs == nil {
		return nil, err
	}
	var out []int64
	for _, v := range fs[attrInts] {
		got, err := varints(v)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// ConstInt64 returns the single value of a Constant node's int64 tensor.
func (n *Node) ConstInt64() (int64, error) {
	fs, err := n.attr("value")
	if err != nil {
		return 0, err
	}
	if n.Op != "Constant" || fs == nil || len(fs[attrTensor]) == 0 {
		return 0, fmt.Errorf("onnx: node %s is not a tensor constant", n.Name)
	}
	var vals []int64
	var elem uint64
	err = fields(fs[attrTensor][0], func(num protowire.Number, typ protowire.Type, v, raw []byte) error {
		var err error
		switch num {
		case tensorDataType:
			elem, err = varintField(raw)
		case tensorInt64Data:
			var got []int64
			got, err = varints(raw)
			vals = append(vals, got...)
		case tensorRawData:
			for ; len(v) >= 8; v = v[8:] {
				vals = append(vals, int64(binary.LittleEndian.Uint64(v)))
			}
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if elem != TensorInt64 || len(vals) != 1 {
		return 0, fmt.Errorf("onnx: constant %s is not one int64", n.Name)
	}
	return vals[0], nil
}

// varintField decodes a whole varint field (tag included).
func varintField(raw []byte) (uint64, error) {
	_, _, n := protowire.ConsumeTag(raw)
	if n < 0 {
		return 0, errMalformed
	}
	v, m := protowire.ConsumeVarint(raw[n:])
	if m < 0 {
		return 0, errMalformed
	}
	return v, nil
}

// varints decodes a repeated integer field's element: one varint field,
// or (packed) the bytes of several.
func varints(raw []byte) ([]int64, error) {
	_, typ, n := protowire.ConsumeTag(raw)
	if n < 0 {
		return nil, errMalformed
	}
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(raw[n:])
		if m < 0 {
			return nil, errMalformed
		}
		return packedVarints(v)
	}
	v, err := varintField(raw)
	return []int64{int64(v)}, err
}

func packedVarints(b []byte) ([]int64, error) {
	var out []int64
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, errMalformed
		}
		out, b = append(out, int64(v)), b[n:]
	}
	return out, nil
}

// Producers maps each value name to the node that outputs it.
func (g *Graph) Producers() map[string]*Node {
	p := map[string]*Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			p[o] = n
		}
	}
	return p
}

// Rename renames a value everywhere nodes output or read it.
func (g *Graph) Rename(from, to string) {
	for _, n := range g.Nodes {
		for i, s := range n.Inputs {
			if s == from {
				n.Inputs[i] = to
			}
		}
		for i, s := range n.Outputs {
			if s == from {
				n.Outputs[i] = to
			}
		}
	}
}

// Consumers maps each value name to the nodes that read it.
func (g *Graph) Consumers() map[string][]*Node {
	c := map[string][]*Node{}
	for _, n := range g.Nodes {
		for _, i := range n.Inputs {
			c[i] = append(c[i], n)
		}
	}
	return c
}

// Prune removes nodes none of whose outputs is read (by a node or as a
// graph output), repeatedly, and then the value infos of values no longer
// read.
func (g *Graph) Prune() {
	for {
		used := map[string]bool{}
		for _, o := range g.Outputs {
			used[o.Name] = true
		}
		for _, n := range g.Nodes {
			for _, i := range n.Inputs {
				used[i] = true
			}
		}
		keep := g.Nodes[:0]
		for _, n := range g.Nodes {
			if slices.ContainsFunc(n.Outputs, func(o string) bool { return used[o] }) {
				keep = append(keep, n)
			}
		}
		if len(keep) == len(g.Nodes) {
			g.ValueInfo = slices.DeleteFunc(g.ValueInfo, func(vi ValueInfo) bool { return !used[vi.Name] })
			return
		}
		clear(g.Nodes[len(keep):])
		g.Nodes = keep
	}
}
