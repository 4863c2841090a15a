package onnx

/*
#include <malloc.h>

static void fix_mmap_threshold(int bytes) { mallopt(M_MMAP_THRESHOLD, bytes); }
*/
import "C"

// keepLargeBuffersMapped fixes glibc's mmap threshold at its 128 KiB
// default. glibc otherwise raises the threshold to the size of each large
// block freed, so after ONNX Runtime frees its first big activation
// buffers the later ones come from the heap, and the heap keeps them after
// they are freed; mapped, they go back to the system on free (transcribing
// sim01, peak RSS 533 → 481 MB; BENCHMARKS.md, "Transcription").
func keepLargeBuffersMapped() { C.fix_mmap_threshold(128 << 10) }
