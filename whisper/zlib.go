package whisper

/*
#cgo LDFLAGS: -lz
#include <stdlib.h>
#include <zlib.h>

// compressed_len is the length of zlib.compress(src) in Python: compress2
// at the default level, window and memory level.
static long compressed_len(const unsigned char *src, unsigned long n, unsigned char *dst, unsigned long cap) {
	uLongf out = cap;
	if (compress2(dst, &out, src, n, Z_DEFAULT_COMPRESSION) != Z_OK) return -1;
	return (long)out;
}
*/
import "C"

import "fmt"

// compressionRatio is openai's repetition test (transcribe.py's
// compression_ratio_threshold): text bytes over the bytes of Python's
// zlib.compress of them. The threshold of 2.4 was set on C zlib's output,
// so the ratio comes from the same library: Go's compress/zlib writes
// other streams (an empty final block of its own, other matches), 10 %
// longer on whisper's texts, which kept windows openai re-decodes
// (docs/TRANSCRIPTION_BENCH.md).
func compressionRatio(text string) float64 {
	if text == "" {
		return 0
	}
	n, err := zlibLen([]byte(text))
	if err != nil {
		return 0 // not reached: compress2 fails only without memory
	}
	return float64(len(text)) / float64(n)
}

// zlibLen is the length of C zlib's compress2 of b at the default level.
func zlibLen(b []byte) (int, error) {
	bound := int(C.compressBound(C.uLong(len(b))))
	dst := C.malloc(C.size_t(bound))
	defer C.free(dst)
	src := C.CBytes(b)
	defer C.free(src)
	n := C.compressed_len((*C.uchar)(src), C.ulong(len(b)), (*C.uchar)(dst), C.ulong(bound))
	if n < 0 {
		return 0, fmt.Errorf("whisper: zlib compress2 failed")
	}
	return int(n), nil
}
