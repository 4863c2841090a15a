package identify

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/whospoke/whospoke/embedding"
)

// FuzzDecode: any string decodes to a unit-length, finite vector of the
// model's size, or fails; never panics. Each input is tried as given and,
// so that mutations get past the checksum, as a body with its CRC added.
func FuzzDecode(f *testing.F) {
	v := make([]float32, embedding.Dim)
	v[0], v[1] = 0.6, 0.8
	good := Encode(v)
	raw, _ := base64.StdEncoding.DecodeString(good)
	body := raw[:len(raw)-4]
	f.Add(good, body)
	f.Add(good[:len(good)/2], body[:20])
	f.Add(good[:len(good)-4]+"AAAA", body[:len(body)-1])
	f.Add("", []byte{})
	f.Add("bm90IGEgdm9pY2VwcmludA", []byte("whospoke"))
	f.Fuzz(func(t *testing.T, s string, body []byte) {
		check(t, s)
		check(t, base64.StdEncoding.EncodeToString(binary.LittleEndian.AppendUint32(body, crc32.ChecksumIEEE(body))))
	})
}

func check(t *testing.T, s string) {
	got, err := Decode(s)
	if err != nil {
		return
	}
	if len(got) != embedding.Dim {
		t.Fatalf("%d values", len(got))
	}
	var n float64
	for _, x := range got {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("non-finite value %v", x)
		}
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-3 {
		t.Fatalf("norm² %v, want 1", n)
	}
	if again, err := Decode(Encode(got)); err != nil || len(again) != len(got) {
		t.Fatalf("re-encoded voiceprint: %v", err)
	}
}
