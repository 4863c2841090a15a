package audio

import "testing"

func TestDecodePCM16(t *testing.T) {
	got := make([]float32, 3)
	DecodePCM16(got, []byte{0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x01})
	if got[0] != -1 || got[1] != 32767.0/32768 || got[2] != 0 {
		t.Fatalf("%v", got)
	}
}
