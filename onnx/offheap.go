package onnx

/*
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// CTensor is a float32 tensor whose data is allocated with C's calloc,
// outside the Go heap. Large buffers that live through a whole
// transcription (attention caches, encoder outputs) would otherwise count
// toward the garbage collector's goal, which lets the heap grow to twice
// what is live before it collects; with glibc (malloc_linux.go) they are
// mapped and go back to the system on Destroy.
type CTensor struct {
	*ort.Tensor[float32]
	mem unsafe.Pointer
}

// NewCTensor makes a zeroed tensor of shape s outside the Go heap.
func NewCTensor(s ort.Shape) (*CTensor, error) {
	data, mem, err := cFloat32s(int(s.FlattenedSize()))
	if err != nil {
		return nil, err
	}
	t, err := ort.NewTensor(s, data)
	if err != nil {
		C.free(mem)
		return nil, err
	}
	return &CTensor{Tensor: t, mem: mem}, nil
}

// Destroy frees the tensor and its data.
func (t *CTensor) Destroy() error {
	if t == nil || t.Tensor == nil {
		return nil
	}
	err := t.Tensor.Destroy()
	C.free(t.mem)
	t.Tensor, t.mem = nil, nil
	return err
}

// CFloat32s is a float32 buffer outside the Go heap (as CTensor's), for
// tensors made over a prefix of it with ort.NewTensor.
type CFloat32s struct {
	Data []float32
	mem  unsafe.Pointer
}

// Grow makes the buffer hold at least n values; the contents are not kept.
func (b *CFloat32s) Grow(n int) error {
	if len(b.Data) >= n {
		return nil
	}
	b.Free()
	data, mem, err := cFloat32s(n)
	if err != nil {
		return err
	}
	b.Data, b.mem = data, mem
	return nil
}

// Free releases the buffer.
func (b *CFloat32s) Free() {
	if b.mem != nil {
		C.free(b.mem)
	}
	b.Data, b.mem = nil, nil
}

func cFloat32s(n int) ([]float32, unsafe.Pointer, error) {
	if n <= 0 {
		return nil, nil, errors.New("onnx: empty tensor")
	}
	mem := C.calloc(C.size_t(n), 4)
	if mem == nil {
		return nil, nil, errors.New("onnx: out of memory")
	}
	return unsafe.Slice((*float32)(mem), n), mem, nil
}
