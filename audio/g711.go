package audio

// G.711 telephone audio (8 kHz, one byte a sample): μ-law (pcmu) and A-law
// (pcma), decoded as ITU-T G.711 specifies, scaled to [-1, 1).

// DecodeMulaw decodes μ-law bytes into dst (len(dst) ≥ len(src)).
func DecodeMulaw(dst []float32, src []byte) {
	for i, b := range src {
		dst[i] = float32(mulaw(b)) / 32768
	}
}

// DecodeAlaw decodes A-law bytes into dst (len(dst) ≥ len(src)).
func DecodeAlaw(dst []float32, src []byte) {
	for i, b := range src {
		dst[i] = float32(alaw(b)) / 32768
	}
}

func mulaw(b byte) int16 {
	b = ^b
	exp := (b >> 4) & 7
	v := (int16(b&0x0f)<<3 + 0x84) << exp
	v -= 0x84
	if b&0x80 != 0 {
		return -v
	}
	return v
}

func alaw(b byte) int16 {
	b ^= 0x55
	exp := (b >> 4) & 7
	v := int16(b&0x0f) << 4
	switch exp {
	case 0:
		v += 8
	default:
		v = (v + 0x108) << (exp - 1)
	}
	if b&0x80 == 0 {
		return -v
	}
	return v
}
