package audio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ffmpegPath finds ffmpeg: $WHOSPOKE_FFMPEG if set, else the PATH.
func ffmpegPath() (string, error) {
	name := "ffmpeg"
	if env := os.Getenv("WHOSPOKE_FFMPEG"); env != "" {
		name = env
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoFFmpeg, err)
	}
	return p, nil
}

// ffprobePath finds the ffprobe installed beside ffmpeg, else on the PATH.
func ffprobePath(ffmpeg string) (string, error) {
	if p, err := exec.LookPath(filepath.Join(filepath.Dir(ffmpeg), "ffprobe")); err == nil {
		return p, nil
	}
	p, err := exec.LookPath("ffprobe")
	if err != nil {
		return "", fmt.Errorf("%w: ffprobe is needed to check the channel: %v", ErrNoFFmpeg, err)
	}
	return p, nil
}

// inputArgs name the file for ffmpeg and ffprobe. The "file:" prefix and the
// protocol whitelist keep a path (or a playlist inside the file) from being
// taken as a URL or an option.
func inputArgs(path string) []string {
	return []string{"-protocol_whitelist", "file", "-i", "file:" + path}
}

// maxStderr bounds how much of ffmpeg's stderr is kept: the first lines say
// why it failed, and a damaged file can make it log without end.
const maxStderr = 4 << 10

// headBuffer keeps the first maxStderr bytes written to it.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := maxStderr - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	s := strings.TrimSpace(string(h.b))
	if s == "" {
		return "no message"
	}
	return strings.ReplaceAll(s, "\n", "; ")
}

// probeChannels returns the channel count of the first audio stream.
func probeChannels(ctx context.Context, ffprobe, path string) (int, error) {
	args := append([]string{"-v", "error"}, inputArgs(path)...)
	args = append(args, "-select_streams", "a:0", "-show_entries", "stream=channels", "-of", "csv=p=0")
	cmd := exec.CommandContext(ctx, ffprobe, args...)
	var stdout bytes.Buffer
	var stderr headBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w: ffprobe: %s", ErrNotAudio, stderr.String())
	}
	out := strings.TrimSpace(stdout.String())
	if out == "" {
		return 0, fmt.Errorf("%w: the file has no audio stream", ErrNotAudio)
	}
	n, err := strconv.Atoi(out)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: ffprobe reports %q channels", ErrNotAudio, out)
	}
	return n, nil
}

// decodeFFmpeg has ffmpeg decode, mix and resample the first audio stream
// of path, streaming its float32 output into s.
func decodeFFmpeg(ctx context.Context, path string, opt Options, s *sink) error {
	bin, err := ffmpegPath()
	if err != nil {
		return err
	}
	args := append([]string{"-nostdin", "-v", "error"}, inputArgs(path)...)
	args = append(args, "-map", "0:a:0", "-vn")
	if opt.Channel >= 0 {
		// ffmpeg's pan filter silently outputs zeros for a channel that
		// does not exist, so the index is checked first.
		probe, err := ffprobePath(bin)
		if err != nil {
			return err
		}
		n, err := probeChannels(ctx, probe, path)
		if err != nil {
			return err
		}
		if opt.Channel >= n {
			return fmt.Errorf("%w: channel %d of a %d-channel file", ErrBadChannel, opt.Channel, n)
		}
		args = append(args, "-af", fmt.Sprintf("pan=mono|c0=c%d", opt.Channel))
	}
	args = append(args, "-ac", "1", "-ar", strconv.Itoa(SampleRate), "-f", "f32le", "pipe:1")

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	var stderr headBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting ffmpeg: %w", err)
	}
	readErr := readF32(stdout, s)
	if readErr != nil {
		cancel() // e.g. ErrTooLong: stop ffmpeg instead of draining it
	}
	waitErr := cmd.Wait()
	switch {
	case readErr != nil:
		return readErr
	case ctx.Err() != nil:
		return ctx.Err()
	case waitErr == nil:
		return nil
	case s.n == 0:
		return fmt.Errorf("%w: ffmpeg: %s", ErrNotAudio, stderr.String())
	default:
		return fmt.Errorf("ffmpeg failed after %.1f s of audio: %s", float64(s.n)/SampleRate, stderr.String())
	}
}

// readF32 moves little-endian float32 samples from r into s until EOF.
func readF32(r io.Reader, s *sink) error {
	buf := make([]byte, 64<<10)
	x := make([]float32, len(buf)/4)
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		k := n / 4
		decodeF32(x[:k], buf)
		if werr := s.write(x[:k]); werr != nil {
			return werr
		}
		if err != nil {
			return nil
		}
	}
}
