package audio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// errNotNative marks a file the native WAV decoder leaves to ffmpeg: not
// RIFF/WAVE at all, or an encoding (A-law, ADPCM, odd bit depths, extreme
// sample rates) it does not handle.
var errNotNative = errors.New("not a natively decoded WAV")

// The sample rates decoded natively; outside them the resampler's tables
// would grow large for no real-world file, so ffmpeg takes over.
const (
	minNativeRate = 1000
	maxNativeRate = 384000
)

type sampleKind int

const (
	kindU8 sampleKind = iota
	kindS16
	kindS24
	kindS32
	kindF32
	kindF64
)

type wavFormat struct {
	kind     sampleKind
	channels int
	rate     int
	align    int // bytes per frame
}

// wavData is where a WAV's samples are: the format, and the data chunk's
// length in bytes (-1: up to the end of the file).
type wavData struct {
	wavFormat
	length int64
	offset int64 // of the first sample
}

// ksGUIDTail is the part of WAVE_FORMAT_EXTENSIBLE sub-format GUIDs after the
// two-byte format tag.
var ksGUIDTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

// readWAVHeader reads up to the first sample of a RIFF/WAVE (or RF64/BW64)
// stream. It returns errNotNative for anything else, ErrTruncated when the
// header is cut short, and ErrNotAudio when it is malformed.
func readWAVHeader(r *bufio.Reader) (wavData, error) {
	var d wavData
	var head [12]byte
	n, err := io.ReadFull(r, head[:])
	switch {
	case n < 4:
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return d, err
		}
		return d, errNotNative
	case !isRIFF(head[:4]):
		return d, errNotNative
	case err != nil:
		if err != io.ErrUnexpectedEOF {
			return d, err
		}
		return d, fmt.Errorf("%w: WAV header ends after %d bytes", ErrTruncated, n)
	case string(head[8:12]) != "WAVE":
		return d, errNotNative // e.g. AVI, also RIFF-based
	}

	off := int64(12)
	ds64Data := int64(-1)
	gotFmt := false
	for {
		var ch [8]byte
		n, err := io.ReadFull(r, ch[:])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return d, fmt.Errorf("%w: WAV header ends after %d bytes, before the data chunk", ErrTruncated, off+int64(n))
		} else if err != nil {
			return d, err
		}
		off += 8
		id, size := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "data":
			if !gotFmt {
				return d, fmt.Errorf("%w: WAV data chunk comes before the fmt chunk", ErrNotAudio)
			}
			d.offset, d.length = off, size
			if size == 0xFFFFFFFF {
				d.length = ds64Data // -1 unless RF64 said otherwise
			}
			return d, nil
		case "fmt ", "ds64":
			// Only the first 40 bytes matter: a full WAVE_FORMAT_EXTENSIBLE.
			b := make([]byte, min(size, 40))
			if k, err := io.ReadFull(r, b); err != nil {
				return d, fmt.Errorf("%w: WAV header ends after %d bytes, inside the %q chunk", ErrTruncated, off+int64(k), id)
			}
			if id == "ds64" {
				if len(b) >= 16 {
					ds64Data = int64(binary.LittleEndian.Uint64(b[8:]))
				}
			} else {
				if d.wavFormat, err = parseFmt(b); err != nil {
					return d, err
				}
				gotFmt = true
			}
			off += int64(len(b))
			size -= int64(len(b))
		}
		// Skip the rest of the chunk, and its pad byte when its size is odd.
		skip := size + size&1
		k, err := r.Discard(int(skip))
		off += int64(k)
		if err == io.EOF {
			return d, fmt.Errorf("%w: WAV header ends after %d bytes, inside the %q chunk", ErrTruncated, off, id)
		} else if err != nil {
			return d, err
		}
	}
}

func isRIFF(magic []byte) bool {
	m := string(magic)
	return m == "RIFF" || m == "RF64" || m == "BW64"
}

// parseFmt reads a fmt chunk body (16 to 40 bytes).
func parseFmt(b []byte) (wavFormat, error) {
	var f wavFormat
	if len(b) < 16 {
		return f, fmt.Errorf("%w: WAV fmt chunk has %d bytes, want at least 16", ErrNotAudio, len(b))
	}
	tag := binary.LittleEndian.Uint16(b)
	f.channels = int(binary.LittleEndian.Uint16(b[2:]))
	rate := binary.LittleEndian.Uint32(b[4:])
	f.align = int(binary.LittleEndian.Uint16(b[12:]))
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	if f.channels == 0 {
		return f, fmt.Errorf("%w: WAV declares 0 channels", ErrNotAudio)
	}
	if rate == 0 {
		return f, fmt.Errorf("%w: WAV declares a sample rate of 0", ErrNotAudio)
	}
	if tag == 0xFFFE { // WAVE_FORMAT_EXTENSIBLE: the real tag is in the GUID
		if len(b) < 40 || [14]byte(b[26:40]) != ksGUIDTail {
			return f, errNotNative
		}
		tag = binary.LittleEndian.Uint16(b[24:])
	}
	switch {
	case tag == 1 && bits == 8:
		f.kind = kindU8
	case tag == 1 && bits == 16:
		f.kind = kindS16
	case tag == 1 && bits == 24:
		f.kind = kindS24
	case tag == 1 && bits == 32:
		f.kind = kindS32
	case tag == 3 && bits == 32:
		f.kind = kindF32
	case tag == 3 && bits == 64:
		f.kind = kindF64
	default:
		return f, errNotNative
	}
	if f.align != f.channels*bits/8 || rate < minNativeRate || rate > maxNativeRate {
		return f, errNotNative
	}
	f.rate = int(rate)
	return f, nil
}

// decodeWAV streams a RIFF/WAVE file of size bytes from r into s, resampling
// to 16 kHz. A data chunk that is shorter than declared, or declared as
// 0xFFFFFFFF by a streaming writer, yields the whole frames present.
func decodeWAV(ctx context.Context, r io.Reader, size int64, opt Options, s *sink) error {
	br := bufio.NewReaderSize(r, 64<<10)
	d, err := readWAVHeader(br)
	if err != nil {
		return err
	}
	if opt.Channel >= d.channels {
		return fmt.Errorf("%w: channel %d of a %d-channel file", ErrBadChannel, opt.Channel, d.channels)
	}
	avail := size - d.offset
	if d.length >= 0 && d.length < avail {
		avail = d.length
	}
	// The header tells the length up front, so an over-long file fails
	// before any decoding.
	frames := avail / int64(d.align)
	out := (frames*SampleRate + int64(d.rate) - 1) / int64(d.rate)
	if limit := opt.maxSamples(); out > limit {
		return fmt.Errorf("%w: %.0f s, limit %.0f s", ErrTooLong, float64(frames)/float64(d.rate), float64(limit)/SampleRate)
	}
	if err := s.expect(out); err != nil {
		return err
	}

	var data io.Reader = br
	if d.length >= 0 {
		data = io.LimitReader(br, d.length)
	}
	c0, cnt := 0, d.channels
	if opt.Channel >= 0 {
		c0, cnt = opt.Channel, 1
	}
	var rs *resampler
	if d.rate != SampleRate {
		rs = newResampler(d.rate, SampleRate)
	}
	blockFrames := max(1, (64<<10)/d.align)
	buf := make([]byte, blockFrames*d.align)
	mono := make([]float32, blockFrames)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := io.ReadFull(data, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return rerr
		}
		// A trailing partial frame is dropped: its channels are incomplete.
		k := n / d.align
		x := mono[:k]
		d.mix(x, buf[:k*d.align], c0, cnt)
		if rs != nil {
			x = rs.process(x)
		}
		if err := s.write(x); err != nil {
			return err
		}
		if rerr != nil {
			break
		}
	}
	if rs != nil {
		return s.write(rs.flush())
	}
	return nil
}

// mix converts the whole frames in b to mono samples in dst, averaging
// channels [c0, c0+cnt).
func (f *wavFormat) mix(dst []float32, b []byte, c0, cnt int) {
	a := f.align
	bps := a / f.channels
	lo, hi := c0*bps, (c0+cnt)*bps
	le := binary.LittleEndian
	switch f.kind {
	case kindU8:
		sc := float32(1 / (128 * float64(cnt)))
		for i := range dst {
			var sum int64
			for _, v := range b[i*a+lo : i*a+hi] {
				sum += int64(v) - 128
			}
			dst[i] = float32(sum) * sc
		}
	case kindS16:
		sc := float32(1 / (32768 * float64(cnt)))
		if cnt == 1 { // the common case, kept to a tight loop
			for i := range dst {
				dst[i] = float32(int16(le.Uint16(b[i*a+lo:]))) * sc
			}
			return
		}
		for i := range dst {
			fr := b[i*a+lo : i*a+hi]
			var sum int64
			for j := 0; j+1 < len(fr); j += 2 {
				sum += int64(int16(le.Uint16(fr[j:])))
			}
			dst[i] = float32(sum) * sc
		}
	case kindS24:
		sc := float32(1 / (8388608 * float64(cnt)))
		for i := range dst {
			fr := b[i*a+lo : i*a+hi]
			var sum int64
			for j := 0; j+2 < len(fr); j += 3 {
				// Shift into the top of an int32 to sign-extend.
				sum += int64(int32(uint32(fr[j])<<8|uint32(fr[j+1])<<16|uint32(fr[j+2])<<24) >> 8)
			}
			dst[i] = float32(sum) * sc
		}
	case kindS32:
		sc := 1 / (2147483648 * float64(cnt))
		for i := range dst {
			fr := b[i*a+lo : i*a+hi]
			var sum int64
			for j := 0; j+3 < len(fr); j += 4 {
				sum += int64(int32(le.Uint32(fr[j:])))
			}
			dst[i] = float32(float64(sum) * sc)
		}
	case kindF32:
		sc := 1 / float64(cnt)
		for i := range dst {
			fr := b[i*a+lo : i*a+hi]
			var sum float64
			for j := 0; j+3 < len(fr); j += 4 {
				sum += float64(math.Float32frombits(le.Uint32(fr[j:])))
			}
			dst[i] = float32(sum * sc)
		}
	case kindF64:
		sc := 1 / float64(cnt)
		for i := range dst {
			fr := b[i*a+lo : i*a+hi]
			var sum float64
			for j := 0; j+7 < len(fr); j += 8 {
				sum += math.Float64frombits(le.Uint64(fr[j:]))
			}
			dst[i] = float32(sum * sc)
		}
	}
}
