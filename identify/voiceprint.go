// Package identify turns voices into voiceprints and names the speakers of a
// diarization by matching their voices against enrolled voiceprints.
package identify

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/whospoke/whospoke/embedding"
)

// ModelVersion pins the exact embedding space of a voiceprint: the first
// bytes of the CAM++ model file's sha256 (models manifest) and the feature
// recipe (80-bin fbank, per-utterance mean normalisation). Change it whenever
// either changes, so that old voiceprints are refused instead of silently
// scored in a different space.
const ModelVersion = "72b4614c/fbank80-cmn"

// formatVersion is the layout of the encoded envelope.
const formatVersion = 1

// magic starts every envelope, so that random base64 is told apart from a
// voiceprint of another version.
var magic = [4]byte{'W', 'S', 'V', 'P'}

// MaxEncodedLen is the longest voiceprint string the API accepts.
const MaxEncodedLen = 20000

var (
	// ErrMalformed: the string is not a whospoke voiceprint (or is damaged).
	ErrMalformed = errors.New("malformed voiceprint")
	// ErrOtherModel: the voiceprint was made by another embedding model or
	// version, whose vectors cannot be compared with this server's.
	ErrOtherModel = errors.New("voiceprint made by another embedding model")
)

// Encode serialises a voiceprint vector to the opaque string the API returns:
// base64 of magic, format version, model name, model version, the float32
// vector (little endian) and a CRC-32 of all that.
func Encode(v []float32) string {
	var b bytes.Buffer
	b.Write(magic[:])
	b.WriteByte(formatVersion)
	writeString(&b, embedding.ModelName)
	writeString(&b, ModelVersion)
	binary.Write(&b, binary.LittleEndian, uint16(len(v)))
	binary.Write(&b, binary.LittleEndian, v)
	binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(b.Bytes()))
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func writeString(b *bytes.Buffer, s string) {
	b.WriteByte(byte(len(s)))
	b.WriteString(s[:min(len(s), 255)])
}

// Decode parses a string made by Encode and returns its unit-length vector.
// It fails with ErrMalformed for anything else and with ErrOtherModel for a
// voiceprint of another embedding model or version.
func Decode(s string) ([]float32, error) {
	if len(s) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d characters (at most %d)", ErrMalformed, len(s), MaxEncodedLen)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	if len(raw) < len(magic)+1+4 || !bytes.Equal(raw[:len(magic)], magic[:]) {
		return nil, fmt.Errorf("%w: not a whospoke voiceprint", ErrMalformed)
	}
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or altered)", ErrMalformed)
	}
	r := bytes.NewReader(body[len(magic):])
	ver, _ := r.ReadByte()
	if ver != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d (this server reads %d)", ErrMalformed, ver, formatVersion)
	}
	name, err1 := readString(r)
	mver, err2 := readString(r)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if name != embedding.ModelName || mver != ModelVersion {
		return nil, fmt.Errorf("%w: made by %s (version %s), this server uses %s (version %s); create the voiceprint again here",
			ErrOtherModel, name, mver, embedding.ModelName, ModelVersion)
	}
	var n uint16
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || int(n) != embedding.Dim || r.Len() != 4*int(n) {
		return nil, fmt.Errorf("%w: vector of the wrong size", ErrMalformed)
	}
	v := make([]float32, n)
	binary.Read(r, binary.LittleEndian, v)
	var norm float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: non-finite value", ErrMalformed)
		}
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return nil, fmt.Errorf("%w: zero vector", ErrMalformed)
	}
	embedding.Normalize(v)
	return v, nil
}

func readString(r *bytes.Reader) (string, error) {
	n, err := r.ReadByte()
	if err != nil || r.Len() < int(n) {
		return "", errors.New("truncated header")
	}
	b := make([]byte, n)
	r.Read(b)
	return string(b), nil
}
