package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/whospoke/whospoke/audio"
)

// A condition is the channel every file passes through before it is
// diarized; the reference turns are the clean file's.
const (
	// Clean is the file as it is in the set.
	Clean = "clean"
	// Phone is the file through a telephone channel (see channels).
	Phone = "phone"
	// Narrowband is Phone without the voice-band filter: 8 kHz μ-law only,
	// to tell what the band-pass costs from what the sampling and coding do.
	Narrowband = "narrowband"
)

// Conditions lists the conditions the bench knows, in report order.
var Conditions = []string{Clean, Phone, Narrowband}

// channels are the ffmpeg filter chains of the conditions, as two runs:
//
//	ffmpeg -i in.wav -af 'highpass=f=300,lowpass=f=3400,aresample=8000' -ac 1 -c:a pcm_mulaw -f wav -
//	ffmpeg -f wav -i - -af 'aresample=16000,apad=whole_len=N,atrim=end_sample=N' -c:a pcm_s16le out.wav
//
// The first is the channel: for Phone the ITU-T G.712 voice band (300–3400
// Hz, ffmpeg's 2-pole Butterworth filters), then 8 kHz sampling (aresample's
// anti-alias filter cuts at 4 kHz) and G.711 μ-law coding, 8 bits a sample;
// Narrowband leaves out the two band filters. The second brings it back to
// 16 kHz as a receiver of 8 kHz audio would, and pads or trims it to the
// clean file's N samples so the reference turns still line up (the round
// trip through 8 kHz adds a sample to an odd-length file).
var channels = map[string][2]string{
	Phone:      {"highpass=f=300,lowpass=f=3400,aresample=8000", upTo16k},
	Narrowband: {"aresample=8000", upTo16k},
}

const upTo16k = "aresample=16000,apad=whole_len=%[1]d,atrim=end_sample=%[1]d"

// checkConditions rejects an unknown condition before any work is done.
func checkConditions(conds []string) error {
	for _, c := range conds {
		if _, ok := channels[c]; !ok && c != Clean {
			return fmt.Errorf("bench: unknown condition %q (want one of %s)", c, strings.Join(Conditions, ", "))
		}
	}
	return nil
}

// conditioned returns the path of wav passed through the condition: wav
// itself for the clean one, else a converted copy in cacheDir, made on first
// use. The cache key holds the filter chain and the source's path, size and
// modification time, so a changed chain or file is converted again.
func conditioned(ctx context.Context, cond, wav, cacheDir string) (string, error) {
	if cond == Clean {
		return wav, nil
	}
	chain, ok := channels[cond]
	if !ok {
		return "", checkConditions([]string{cond})
	}
	abs, err := filepath.Abs(wav)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%d", chain[0], chain[1], abs, st.Size(), st.ModTime().UnixNano())))
	dir := filepath.Join(cacheDir, cond)
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(wav), ".wav")+"-"+hex.EncodeToString(h[:6])+".wav")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".convert-*.wav")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := convert(ctx, chain, abs, tmp.Name()); err != nil {
		return "", fmt.Errorf("bench: %s through the %s channel: %w", wav, cond, err)
	}
	// A rename is atomic: a run stopped half-way never leaves a short file
	// in the cache.
	return out, os.Rename(tmp.Name(), out)
}

// convert writes src through a channel's two ffmpeg runs to dst (16 kHz
// 16-bit mono WAV of src's length at 16 kHz).
func convert(ctx context.Context, chain [2]string, src, dst string) error {
	a, err := audio.Open(ctx, src, audio.DefaultOptions())
	if err != nil {
		return err
	}
	n := a.Len()
	a.Close()
	ffmpeg := "ffmpeg"
	if env := os.Getenv("WHOSPOKE_FFMPEG"); env != "" {
		ffmpeg = env
	}
	var err1, err2 bytes.Buffer
	down := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-protocol_whitelist", "file,pipe",
		"-i", "file:"+src, "-af", chain[0], "-ac", "1", "-c:a", "pcm_mulaw", "-f", "wav", "pipe:1")
	up := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-y", "-protocol_whitelist", "file,pipe",
		"-f", "wav", "-i", "pipe:0", "-af", fmt.Sprintf(chain[1], n), "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", "file:"+dst)
	down.Stderr, up.Stderr = &err1, &err2
	// An os.Pipe whose ends this process closes once both have started: if
	// one side dies the other sees the pipe break instead of blocking.
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	down.Stdout, up.Stdin = w, r
	errStart := down.Start()
	if errStart == nil {
		if errStart = up.Start(); errStart != nil {
			w.Close()
			r.Close()
			down.Wait()
			return errStart
		}
	}
	w.Close()
	r.Close()
	if errStart != nil {
		return errStart
	}
	e2 := up.Wait()
	e1 := down.Wait()
	if e1 != nil || e2 != nil {
		return errors.Join(ffmpegErr(e1, &err1), ffmpegErr(e2, &err2))
	}
	return nil
}

func ffmpegErr(err error, stderr *bytes.Buffer) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return fmt.Errorf("ffmpeg: %w: %s", err, strconv.Quote(msg))
}

// defaultCacheDir is where converted files are kept between runs: the
// user's cache directory, else the system's temporary one.
func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "whospoke-bench")
	}
	return filepath.Join(os.TempDir(), "whospoke-bench")
}
