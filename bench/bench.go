// Package bench measures whospoke on an evaluation set: DER per part and per
// file, speed (real-time factor) and peak memory on long files built from
// the set, side by side with the reference system, and writes BENCHMARKS.md.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/eval"
)

// Config says what to measure.
type Config struct {
	Set   string   // evaluation set with real/ and sim/ parts
	Parts []string // parts to score (default real, sim)
	// Calls also scores the calls part (see Calls), built from the set's
	// speakers/ folder and cached in CacheDir.
	Calls     bool
	CallsSeed uint64 // lays out the calls part (0: DefaultCallsSeed)
	Binary    string // whospoke binary for the long-file runs (child processes keep RSS honest)
	Threads   int
	LongHours []float64 // lengths of the concatenated long files (e.g. 1, 4); none to skip
	Peer      string    // shared/tools dir with the reference system; "" to skip it
	WorkDir   string    // scratch space for long files and hypotheses
	Log       io.Writer
	// Conditions are the channels every file is scored through (default
	// clean; see Conditions). Long files and the peer use the clean files.
	Conditions []string
	CacheDir   string // where converted files are kept (default: the user's cache dir)
}

// FileResult is one diarized file.
type FileResult struct {
	Condition, Part, URI string
	Seconds, Wall        float64
	RefSpk, HypSpk       int
	// RefCounted is the reference speakers with at least 1 s of speech in
	// the scored region, the count the speaker count is judged against.
	RefCounted  int
	DER0, DER25 float64
	C0, C25     eval.Components // DER's parts at collar 0 and 0.25
}

// CountErr is the speakers found minus the counted reference speakers.
func (f FileResult) CountErr() int { return f.HypSpk - f.RefCounted }

// Label names a part under a condition: "real", "real (phone)".
func Label(part, cond string) string {
	if cond == "" || cond == Clean {
		return part
	}
	return part + " (" + cond + ")"
}

// PartResult is the pooled score of one part.
type PartResult struct {
	Condition, Part                  string
	DER0, DER25, DER0NoOv, DER25NoOv float64
	JER                              float64
	Audio, Wall                      float64
}

// LongResult is one long-file run.
type LongResult struct {
	Hours     float64
	Wall, RTF float64
	PeakRSSMB float64
	PeerWall  float64 // 0 when not run
}

// PeerResult holds the reference system's numbers from its own runner.
type PeerResult struct {
	Output string // its printed summary
	DER    map[string]float64
	RTF    float64
}

// Report is everything measured.
type Report struct {
	Date    time.Time
	Machine string
	Command string
	Config  diarize.Config
	Files   []FileResult
	Parts   []PartResult
	Groups  []GroupResult // per condition: parts, halves of real, all
	Long    []LongResult
	Peer    *PeerResult
}

func (c *Config) logf(format string, a ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", a...)
	}
}

// Run measures everything the config asks for.
func Run(ctx context.Context, p *diarize.Pipeline, cfg Config) (*Report, error) {
	if len(cfg.Parts) == 0 {
		cfg.Parts = []string{"real", "sim"}
	}
	if cfg.Calls && !slices.Contains(cfg.Parts, Calls) {
		cfg.Parts = append(cfg.Parts, Calls)
	}
	if len(cfg.Conditions) == 0 {
		cfg.Conditions = []string{Clean}
	}
	if err := checkConditions(cfg.Conditions); err != nil {
		return nil, err
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = defaultCacheDir()
	}
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "whospoke-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.WorkDir = d
	}
	dirs, err := partDirs(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	rep := &Report{Date: time.Now().UTC(), Machine: Machine(), Config: p.Config()}
	var wavs []string
	for _, cond := range cfg.Conditions {
		for _, part := range cfg.Parts {
			pr, files, err := scorePart(ctx, p, &cfg, cond, part, dirs[part])
			if err != nil {
				return nil, err
			}
			rep.Parts = append(rep.Parts, pr)
			rep.Files = append(rep.Files, files...)
			// The long files are the set's own files, as before the calls part.
			if cond != Clean || part == Calls {
				continue
			}
			for _, f := range files {
				wavs = append(wavs, filepath.Join(dirs[part], f.URI+".wav"))
			}
		}
	}
	rep.Groups = groups(rep.Files, cfg.Conditions)
	if cfg.Peer != "" {
		peer, err := runPeerSet(ctx, &cfg)
		if err != nil {
			cfg.logf("peer on the set failed: %v", err)
		} else {
			rep.Peer = peer
		}
	}
	for _, h := range cfg.LongHours {
		lr, err := runLong(ctx, &cfg, wavs, h, h == cfg.LongHours[0])
		if err != nil {
			return nil, err
		}
		rep.Long = append(rep.Long, lr)
	}
	return rep, nil
}

// partDirs is the folder of each part: the set's own, or the cache's for
// the calls part (built on first use).
func partDirs(ctx context.Context, cfg *Config) (map[string]string, error) {
	dirs := map[string]string{}
	for _, part := range cfg.Parts {
		if part != Calls {
			dirs[part] = filepath.Join(cfg.Set, part)
			continue
		}
		seed := cfg.CallsSeed
		if seed == 0 {
			seed = DefaultCallsSeed
		}
		dir, err := buildCalls(ctx, cfg.Set, cfg.CacheDir, seed)
		if err != nil {
			return nil, err
		}
		cfg.logf("calls part (seed %d): %s", seed, dir)
		dirs[part] = dir
	}
	return dirs, nil
}

func scorePart(ctx context.Context, p *diarize.Pipeline, cfg *Config, cond, part, dir string) (PartResult, []FileResult, error) {
	pr := PartResult{Condition: cond, Part: part}
	wavs, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	sort.Strings(wavs)
	var refs, hyps []*annotation.Annotation
	uems := map[string]annotation.Timeline{}
	var files []FileResult
	for _, wav := range wavs {
		id := strings.TrimSuffix(filepath.Base(wav), ".wav")
		refPath := strings.TrimSuffix(wav, ".wav") + ".rttm"
		rs, err := eval.ReadRTTMPath(refPath)
		if err != nil || len(rs) == 0 {
			continue // no reference: not part of the scored set
		}
		ref := rs[0]
		ref.URI = id
		if u, err := eval.ReadUEMPath(strings.TrimSuffix(wav, ".wav")+".uem", nil); err == nil {
			for _, t := range u {
				uems[id] = t
			}
		}
		input, err := conditioned(ctx, cond, wav, cfg.CacheDir)
		if err != nil {
			return pr, nil, err
		}
		a, err := audio.Open(ctx, input, audio.DefaultOptions())
		if err != nil {
			return pr, nil, err
		}
		start := time.Now()
		res, err := p.Diarize(ctx, a, diarize.Options{})
		wall := time.Since(start).Seconds()
		a.Close()
		if err != nil {
			return pr, nil, fmt.Errorf("%s: %w", wav, err)
		}
		hyp := res.Diarization
		hyp.URI = id
		refs, hyps = append(refs, ref), append(hyps, hyp)
		fr := FileResult{Condition: cond, Part: part, URI: id, Seconds: res.Duration, Wall: wall,
			RefSpk: len(ref.Labels()), HypSpk: len(res.Speakers), RefCounted: countedSpeakers(ref, uems[id])}
		if fr.C0, err = eval.DER(ref, hyp, uems[id], eval.Options{}); err != nil {
			return pr, nil, err
		}
		if fr.C25, err = eval.DER(ref, hyp, uems[id], eval.Options{Collar: 0.25}); err != nil {
			return pr, nil, err
		}
		fr.DER0, fr.DER25 = 100*fr.C0.DER(), 100*fr.C25.DER()
		files = append(files, fr)
		pr.Audio += res.Duration
		pr.Wall += wall
		c := fr.C0
		cfg.logf("%-12s %-24s %6.1fs  %d/%d speakers (%+d)  DER %.1f%% (miss %.1f fa %.1f conf %.1f)  %.2fs",
			Label(part, cond), id, fr.Seconds, fr.HypSpk, fr.RefCounted, fr.CountErr(), fr.DER0,
			pct(c.Missed, c.Scored), pct(c.FalseAlarm, c.Scored), pct(c.Confusion, c.Scored), wall)
	}
	for _, o := range []struct {
		dst *float64
		opt eval.Options
	}{
		{&pr.DER0, eval.Options{}}, {&pr.DER25, eval.Options{Collar: 0.25}},
		{&pr.DER0NoOv, eval.Options{SkipOverlap: true}}, {&pr.DER25NoOv, eval.Options{Collar: 0.25, SkipOverlap: true}},
	} {
		rep, err := eval.Score(refs, hyps, uems, o.opt)
		if err != nil {
			return pr, nil, err
		}
		*o.dst = rep.Pooled.DERPercent
		if o.opt == (eval.Options{}) {
			pr.JER = rep.Pooled.JERPercent
		}
	}
	return pr, files, nil
}

// pct is part as a percentage of whole (0 when whole is 0).
func pct(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}

// runLong builds a WAV of the given length from the set's files and times a
// child `whospoke diarize` on it (and the peer, on the first one).
func runLong(ctx context.Context, cfg *Config, wavs []string, hours float64, withPeer bool) (LongResult, error) {
	lr := LongResult{Hours: hours}
	path := filepath.Join(cfg.WorkDir, fmt.Sprintf("long_%gh.wav", hours))
	if err := concatWAV(ctx, path, wavs, hours*3600); err != nil {
		return lr, err
	}
	defer os.Remove(path)
	args := []string{"diarize", path, "-o", filepath.Join(cfg.WorkDir, "long.rttm")}
	if cfg.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(cfg.Threads))
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, cfg.Binary, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return lr, fmt.Errorf("diarizing the %gh file: %w", hours, err)
	}
	lr.Wall = time.Since(start).Seconds()
	lr.RTF = lr.Wall / (hours * 3600)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		lr.PeakRSSMB = float64(ru.Maxrss) / 1024
	}
	cfg.logf("long %gh: wall %.1fs RTF %.4f peak RSS %.0f MB", hours, lr.Wall, lr.RTF, lr.PeakRSSMB)
	if withPeer && cfg.Peer != "" {
		threads := max(cfg.Threads, 2)
		pstart := time.Now()
		pc := exec.CommandContext(ctx, "node", filepath.Join(cfg.Peer, "peer-sherpa-diarize.js"),
			"--seg", filepath.Join(cfg.Peer, "..", "models", "pyannote-segmentation-3.0", "model.onnx"),
			"--emb", filepath.Join(cfg.Peer, "..", "models", "3dspeaker-campplus-zh-en", "model.onnx"),
			"--threads", strconv.Itoa(threads), path)
		pc.Env = append(os.Environ(), "SHERPA_ONNX_NODE="+peerModule())
		pc.Stdout = io.Discard
		if err := pc.Run(); err != nil {
			cfg.logf("peer on the %gh file failed: %v", hours, err)
		} else {
			lr.PeerWall = time.Since(pstart).Seconds()
			cfg.logf("peer %gh: wall %.1fs", hours, lr.PeerWall)
		}
	}
	return lr, nil
}

func peerModule() string {
	if m := os.Getenv("SHERPA_ONNX_NODE"); m != "" {
		return m
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "whospoke-peer", "node_modules", "sherpa-onnx-node")
}

var peerLine = regexp.MustCompile(`^(real|sim) collar=([0-9.]+) DER=([0-9.]+)%`)

// runPeerSet runs the reference system's own set runner (same models, its
// best threshold, 2 threads) and parses its pooled DER and RTF.
func runPeerSet(ctx context.Context, cfg *Config) (*PeerResult, error) {
	threads := max(cfg.Threads, 2)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(cfg.Peer, "run_peer_set.sh"), cfg.Set,
		filepath.Join(cfg.WorkDir, "peer"), "--threshold", "0.5", "--threads", strconv.Itoa(threads))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	pr := &PeerResult{Output: strings.TrimSpace(string(out)), DER: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := peerLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			pr.DER[m[1]+" c="+m[2]] = v
		}
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RTF" {
			pr.RTF, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	cfg.logf("peer: %s", strings.ReplaceAll(pr.Output, "\n", " | "))
	return pr, nil
}

// concatWAV writes a 16-bit 16 kHz mono WAV of the given length by cycling
// through the files, streamed so the long file is never held in memory.
func concatWAV(ctx context.Context, path string, wavs []string, seconds float64) error {
	if len(wavs) == 0 {
		return errors.New("no files to build a long file from")
	}
	total := int64(seconds * audio.SampleRate)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := audio.WriteWAV16Header(w, total); err != nil {
		f.Close()
		return err
	}
	buf := make([]float32, 1<<16)
	pcm := make([]byte, 2*len(buf))
	var written int64
	for i := 0; written < total; i++ {
		a, err := audio.Open(ctx, wavs[i%len(wavs)], audio.DefaultOptions())
		if err != nil {
			f.Close()
			return err
		}
		for off := int64(0); off < a.Len() && written < total; {
			n, _ := a.ReadAt(buf[:min(int64(len(buf)), total-written)], off)
			if n == 0 {
				break
			}
			audio.PutPCM16(pcm, buf[:n])
			w.Write(pcm[:2*n])
			off += int64(n)
			written += int64(n)
		}
		a.Close()
	}
	return errors.Join(w.Flush(), f.Close())
}

// Machine describes the CPU, core count and memory.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %f kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", kb/1024/1024)
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}
