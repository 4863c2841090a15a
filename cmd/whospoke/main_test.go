package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/models"
)

// run executes the CLI in-process with fresh flag values.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	resetFlags(rootCmd)
	if args[0] == "diarize" {
		args = append(args, "--threads", "2")
	}
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs(args)
	err := rootCmd.ExecuteContext(context.Background())
	return out.String(), err
}

// resetFlags puts every flag of every command back to its default: cobra
// keeps flag values between executions in one process, so one test's
// --uem or --help would leak into the next.
func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		f.Value.Set(f.DefValue)
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, sub := range c.Commands() {
		resetFlags(sub)
	}
}

func shared(t *testing.T) (modelsDir, dev string) {
	t.Helper()
	modelsDir = models.ResolveDir("")
	if _, err := models.Path(modelsDir, "embedding"); err != nil {
		modelsDir = "../../../shared/models"
	}
	dev = "../../../shared/eval/dev"
	if _, err := os.Stat(dev); err != nil {
		t.Skip("shared dev set not found")
	}
	return modelsDir, dev
}

func TestDiarizeFormats(t *testing.T) {
	mdir, dev := shared(t)
	wav := filepath.Join(dev, "real/pyannote_sample.wav")
	out, err := run(t, "diarize", wav, "--models", mdir)
	if err != nil {
		t.Fatal(err)
	}
	anns, err := annotation.ReadRTTM(strings.NewReader(out))
	if err != nil || len(anns) != 1 || anns[0].URI != "pyannote_sample" || len(anns[0].Turns) == 0 {
		t.Fatalf("rttm output: %v %q", err, out)
	}

	out, err = run(t, "diarize", wav, "--models", mdir, "--format", "json", "--num-speakers", "2")
	if err != nil {
		t.Fatal(err)
	}
	var js api.DiarizeOutput
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("json: %v", err)
	}
	speakers := map[string]bool{}
	for _, turn := range js.Diarization {
		speakers[turn.Speaker] = true
	}
	if len(speakers) != 2 || len(js.ExclusiveDiarization) == 0 || js.Confidence == nil || js.Confidence.Resolution != 0.02 {
		t.Fatalf("json shape: %d speakers, %d exclusive turns, confidence %v", len(speakers), len(js.ExclusiveDiarization), js.Confidence != nil)
	}

	dir := t.TempDir()
	out, err = run(t, "diarize", wav, "--models", mdir, "--format", "srt", "--exclusive", "-o", filepath.Join(dir, "a.srt"), "--plot", filepath.Join(dir, "a.png"))
	if err != nil || out != "" {
		t.Fatalf("srt to file: %v, stdout %q", err, out)
	}
	srt, _ := os.ReadFile(filepath.Join(dir, "a.srt"))
	if !strings.HasPrefix(string(srt), "1\n00:00:") || !strings.Contains(string(srt), "[SPEAKER_00]") {
		t.Fatalf("srt: %q", srt)
	}
	if st, err := os.Stat(filepath.Join(dir, "a.png")); err != nil || st.Size() == 0 {
		t.Fatalf("png plot: %v", err)
	}
	out, err = run(t, "diarize", wav, "--models", mdir, "--format", "vtt")
	if err != nil || !strings.HasPrefix(out, "WEBVTT") || !strings.Contains(out, "<v SPEAKER_0") {
		t.Fatalf("vtt: %v %q", err, out)
	}
	// An output that cannot be written (a full disk) is a failure, not a
	// truncated file and success.
	if _, err := os.Stat("/dev/full"); err == nil {
		if _, err := run(t, "diarize", wav, "--models", mdir, "-o", "/dev/full"); err == nil || !strings.Contains(err.Error(), "failed") {
			t.Fatalf("output to a full disk: %v", err)
		}
	}
}

func TestDiarizeSeveralFiles(t *testing.T) {
	mdir, dev := shared(t)
	dir := t.TempDir()
	_, err := run(t, "diarize", filepath.Join(dev, "real/falcon_test.wav"), filepath.Join(dev, "real/ami_debug_trn03.wav"),
		"--models", mdir, "-o", dir, "--plot", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"falcon_test.rttm", "ami_debug_trn03.rttm", "falcon_test.svg", "ami_debug_trn03.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}

func TestDiarizeBadInput(t *testing.T) {
	mdir, _ := shared(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.wav")
	os.WriteFile(empty, nil, 0o644)
	junk := filepath.Join(dir, "junk.mp3")
	os.WriteFile(junk, []byte(strings.Repeat("not audio at all ", 100)), 0o644)
	trunc := filepath.Join(dir, "trunc.wav")
	os.WriteFile(trunc, []byte("RIFF\x24\x00\x00\x00WAVEfmt "), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diarize", empty}, "1 of 1 files failed"},
		{[]string{"diarize", junk}, "failed"},
		{[]string{"diarize", trunc}, "failed"},
		{[]string{"diarize", filepath.Join(dir, "missing.wav")}, "failed"},
		{[]string{"diarize", empty, "--format", "xml"}, "unknown --format"},
		{[]string{"diarize", empty, "--min-speakers", "3", "--max-speakers", "2"}, "must not exceed"},
		{[]string{"diarize", empty, "--plot", "x.gif"}, "want a .svg or .png"},
		{[]string{"diarize", "../../../shared/eval/dev/real/falcon_test.wav", "--max-duration", "5s"}, "failed"},
	} {
		_, err := run(t, append(tc.args, "--models", mdir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestEvalCommand(t *testing.T) {
	_, dev := shared(t)
	out, err := run(t, "eval", "--ref", filepath.Join(dev, "real/ami_debug_dev00.rttm"),
		"--hyp", filepath.Join(dev, "scoring_conformance/sys/ami_debug_dev00.perturbed.rttm"),
		"--uem", filepath.Join(dev, "real/ami_debug_dev00.uem"))
	if err != nil {
		t.Fatal(err)
	}
	// expected.tsv: this pair scores 23.04 % at collar 0 with overlap.
	if !strings.Contains(out, "23.04") {
		t.Fatalf("eval output lacks the md-eval DER 23.04:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	mdir, _ := shared(t)
	version, commit = "v1.2.3-test", "0123abcd"
	defer func() { version, commit = "", "" }()
	out, err := run(t, "version", "--models", mdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"whospoke     v1.2.3-test\n", "commit       0123abcd\n", "go           go1.",
		"models       " + mdir + "\n", "segmentation, "} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	// The runtime's version is asked of the loaded library.
	if !regexp.MustCompile(`(?m)^onnxruntime  \d+\.\d+\.\d+ \(.*libonnxruntime`).MatchString(out) {
		t.Errorf("no ONNX Runtime version:\n%s", out)
	}

	empty := t.TempDir()
	out, err = run(t, "--version")
	if err != nil || !strings.Contains(out, "whospoke     v1.2.3-test\n") || !strings.Contains(out, "onnxruntime  ") {
		t.Errorf("--version: %v\n%s", err, out)
	}
	out, err = run(t, "version", "--models", empty)
	if err != nil || !strings.Contains(out, "installed  none\n") || !strings.Contains(out, "missing    segmentation, ") {
		t.Errorf("empty models folder: %v\n%s", err, out)
	}
}
