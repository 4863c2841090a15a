package diarize

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

// narrowband writes wav through 8 kHz G.711 μ-law and back to 16 kHz at
// n samples, as bench's narrowband condition does (bench/condition.go).
func narrowband(t *testing.T, wav string, n int64) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	mulaw, out := filepath.Join(dir, "mulaw.wav"), filepath.Join(dir, "out.wav")
	for _, args := range [][]string{
		{"-i", wav, "-af", "aresample=8000", "-ac", "1", "-c:a", "pcm_mulaw", mulaw},
		{"-i", mulaw, "-af", fmt.Sprintf("aresample=16000,apad=whole_len=%[1]d,atrim=end_sample=%[1]d", n), "-ac", "1", "-c:a", "pcm_s16le", out},
	} {
		cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, msg)
		}
	}
	return out
}

// Through a narrowband channel the two voices of sim07_digits_2spk become
// alike enough for the AHC threshold to merge them (one speaker, DER 53 %
// before the floor); the segmentation hears both at once in many separate
// stretches, so both are found.
func TestNarrowbandVoicesStayApart(t *testing.T) {
	dev := testenv.DevSet(t)
	p := pipeline(t)
	base := filepath.Join(dev, "sim/sim07_digits_2spk")
	ref, uem := reference(t, base+".rttm", base+".uem")
	clean := load(t, base+".wav")
	a := load(t, narrowband(t, base+".wav", clean.Len()))
	r, err := p.Diarize(context.Background(), a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, r)
	c, err := eval.DER(ref, r.Diarization, uem, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("narrowband sim07: %d speakers, DER %.2f%%", len(r.Speakers), 100*c.DER())
	if len(r.Speakers) != 2 || c.DER() > 0.2 {
		t.Errorf("narrowband sim07: %d speakers, DER %.2f%%; want 2 speakers and DER ≤ 20%%", len(r.Speakers), 100*c.DER())
	}
}
