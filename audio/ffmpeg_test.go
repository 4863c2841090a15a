package audio

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireFFmpeg skips a test that needs ffmpeg when it is missing, except on
// CI, where a missing ffmpeg is a broken image and must fail.
func requireFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required on CI: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// ffmpeg runs ffmpeg with args to make a test file, returning its path.
func ffmpeg(t *testing.T, out string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), out)
	args = append([]string{"-nostdin", "-v", "error", "-y"}, append(args, path)...)
	if msg, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return path
}

// stereoWAV is 3 s of 44.1 kHz stereo: 440 Hz on the left, 1000 Hz on the
// right.
func stereoWAV(t *testing.T) string {
	n := 3 * 44100
	return writeFile(t, "src.wav", wavSpec{tag: 1, channels: 2, rate: 44100, bits: 16, frames: frames(tone(440, 44100, n, 0.5), tone(1000, 44100, n, 0.5))}.bytes())
}

func TestFFmpegFormats(t *testing.T) {
	requireFFmpeg(t)
	src := stereoWAV(t)
	for _, c := range []struct{ name, codec string }{
		{"a.flac", "flac"},
		{"a.mp3", "libmp3lame"},
		{"a.opus", "libopus"},
		{"a.ogg", "libvorbis"},
		{"a.m4a", "aac"},
		{"a.webm", "libopus"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := ffmpeg(t, c.name, "-i", src, "-c:a", c.codec)
			a := openT(t, path, DefaultOptions())
			if d := a.Duration(); math.Abs(d-3) > 0.05 {
				t.Errorf("duration %.3f s, want 3 ± 0.05", d)
			}
			x := all(t, a)
			mid := x[8000 : len(x)-8000]
			if r := rms(mid); r < 0.1 {
				t.Errorf("RMS %.3f: no energy", r)
			}
			if s := toneShare(mid, 440) + toneShare(mid, 1000); s < 0.9 {
				t.Errorf("only %.2f of the energy in the two tones", s)
			}
			opt := DefaultOptions()
			opt.Channel = 1
			right := all(t, openT(t, path, opt))
			if s := toneShare(right[8000:len(right)-8000], 1000); s < 0.95 {
				t.Errorf("channel 1: %.2f of the energy at 1000 Hz", s)
			}
		})
	}
}

// WAV encodings left to ffmpeg: A-law, µ-law, IMA ADPCM.
func TestFFmpegWAVEncodings(t *testing.T) {
	requireFFmpeg(t)
	src := stereoWAV(t)
	for _, codec := range []string{"pcm_alaw", "pcm_mulaw", "adpcm_ima_wav"} {
		path := ffmpeg(t, codec+".wav", "-i", src, "-ar", "8000", "-c:a", codec)
		opt := DefaultOptions()
		opt.Channel = 0
		x := all(t, openT(t, path, opt))
		// ADPCM pads its last block, hence the 0.1 s allowed.
		if math.Abs(float64(len(x))-48000) > 1600 {
			t.Errorf("%s: %d samples, want about 48000", codec, len(x))
		}
		if s := toneShare(x[8000:len(x)-8000], 440); s < 0.9 {
			t.Errorf("%s: %.2f of the energy at 440 Hz", codec, s)
		}
	}
}

func TestFFmpegVideo(t *testing.T) {
	requireFFmpeg(t)
	lavfi := []string{"-f", "lavfi", "-i", "testsrc=duration=2:size=64x48:rate=10", "-f", "lavfi", "-i", "sine=frequency=600:duration=2"}
	path := ffmpeg(t, "v.mp4", append(lavfi, "-c:v", "mpeg4", "-c:a", "aac", "-shortest")...)
	a := openT(t, path, DefaultOptions())
	if d := a.Duration(); math.Abs(d-2) > 0.05 {
		t.Errorf("duration %.3f s, want 2", d)
	}
	x := all(t, a)
	if s := toneShare(x[4000:len(x)-4000], 600); s < 0.9 {
		t.Errorf("%.2f of the energy at 600 Hz", s)
	}

	silentFilm := ffmpeg(t, "v.mkv", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10", "-c:v", "mpeg4")
	for _, ch := range []int{-1, 0} {
		opt := DefaultOptions()
		opt.Channel = ch
		if _, err := Open(context.Background(), silentFilm, opt); !errors.Is(err, ErrNotAudio) {
			t.Errorf("video without audio, channel %d: %v, want ErrNotAudio", ch, err)
		}
	}
}

func TestFFmpegErrors(t *testing.T) {
	requireFFmpeg(t)
	junk := writeFile(t, "junk.mp3", []byte(strings.Repeat("this is not audio at all\n", 40)))
	_, err := Open(context.Background(), junk, DefaultOptions())
	if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "junk.mp3") {
		t.Errorf("junk: %v, want ErrNotAudio naming the file", err)
	}
	if !strings.Contains(err.Error(), "ffmpeg: ") || strings.Contains(err.Error(), "no message") {
		t.Errorf("junk: %v does not carry ffmpeg's reason", err)
	}

	flac := ffmpeg(t, "a.flac", "-i", stereoWAV(t))
	opt := DefaultOptions()
	opt.Channel = 2
	if _, err := Open(context.Background(), flac, opt); !errors.Is(err, ErrBadChannel) {
		t.Errorf("channel 2 of stereo: %v, want ErrBadChannel", err)
	}

	tiny := ffmpeg(t, "tiny.flac", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-frames:a", "1", "-af", "atrim=end_sample=1")
	if _, err := Open(context.Background(), tiny, DefaultOptions()); !errors.Is(err, ErrTooShort) {
		t.Errorf("one sample: %v, want ErrTooShort", err)
	}

	quiet := ffmpeg(t, "quiet.flac", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1")
	if a := openT(t, quiet, DefaultOptions()); math.Abs(a.Duration()-1) > 0.05 || rms(all(t, a)) != 0 {
		t.Errorf("silence: %.3f s, RMS %g", a.Duration(), rms(all(t, a)))
	}
}

// The limit is enforced while ffmpeg runs: over-long input stops it early and
// leaves no spill file behind.
func TestFFmpegMaxDuration(t *testing.T) {
	requireFFmpeg(t)
	long := ffmpeg(t, "long.flac", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=600")
	tmp := t.TempDir()
	opt := DefaultOptions()
	opt.MaxDuration = 2 * time.Second
	opt.TempDir = tmp
	opt.spillAfter = 1000
	start := time.Now()
	if _, err := Open(context.Background(), long, opt); !errors.Is(err, ErrTooLong) {
		t.Fatalf("600 s file, 2 s limit: %v, want ErrTooLong", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v: decoding did not stop early", d)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// The ffmpeg path spills like the native one, and reads back the same.
func TestFFmpegSpill(t *testing.T) {
	requireFFmpeg(t)
	path := ffmpeg(t, "a.flac", "-i", stereoWAV(t))
	want := all(t, openT(t, path, DefaultOptions()))
	opt := DefaultOptions()
	opt.TempDir = t.TempDir()
	opt.spillAfter = 5000
	a := openT(t, path, opt)
	if a.f == nil {
		t.Fatal("did not spill")
	}
	got := all(t, a)
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %g, want %g", i, got[i], want[i])
		}
	}
}

func TestFFmpegCancel(t *testing.T) {
	requireFFmpeg(t)
	path := ffmpeg(t, "long.flac", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=60")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, path, DefaultOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// WHOSPOKE_FFMPEG picks the binary, and a wrong one is reported as missing.
func TestFFmpegEnv(t *testing.T) {
	requireFFmpeg(t)
	bin, _ := exec.LookPath("ffmpeg")
	path := ffmpeg(t, "a.flac", "-i", stereoWAV(t))
	t.Setenv("PATH", "")
	t.Setenv("WHOSPOKE_FFMPEG", bin)
	opt := DefaultOptions()
	opt.Channel = 1 // needs ffprobe, found beside ffmpeg
	openT(t, path, opt)
	t.Setenv("WHOSPOKE_FFMPEG", filepath.Join(t.TempDir(), "ffmpeg"))
	if _, err := Open(context.Background(), path, DefaultOptions()); !errors.Is(err, ErrNoFFmpeg) {
		t.Errorf("got %v, want ErrNoFFmpeg", err)
	}
}
