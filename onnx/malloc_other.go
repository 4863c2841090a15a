//go:build !linux

package onnx

// keepLargeBuffersMapped is glibc tuning (malloc_linux.go); elsewhere the
// system allocator is left as it is.
func keepLargeBuffersMapped() {}
