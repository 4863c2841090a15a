package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

// runPython runs a Python script with extra environment and a time limit,
// returning its standard output and, on failure, the error with its output.
func runPython(t *testing.T, dir string, env []string, limit time.Duration, py string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("stderr:\n%s", stderr.String())
	}
	return string(out), err
}

// The official openai SDK's realtime client runs a transcription session
// against whospoke: session.update, appends, commit → committed, deltas,
// speaker segments, completed; an error event for a bad append; clear. Its
// script validates every event strictly against the SDK's types.
func TestOpenAIRealtimeSDK(t *testing.T) {
	py := python(t, "openai, websockets")
	dev := testenv.DevSet(t, "asr/jfk.wav")
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env)
	script, _ := filepath.Abs("testdata/openai_realtime.py")
	out, err := runPython(t, t.TempDir(), []string{"OPENAI_API_KEY=" + key, "OPENAI_BASE_URL=" + n.URL + "/v1"},
		5*time.Minute, py, script, filepath.Join(dev, "asr", "jfk.wav"))
	if err != nil {
		t.Fatalf("openai_realtime.py: %v\n%s\nserver:\n%s", err, out, n.Logs())
	}
	var res struct {
		Transcript string   `json:"transcript"`
		Deltas     []string `json:"deltas"`
		Segments   []struct {
			Speaker string `json:"speaker"`
			Text    string `json:"text"`
		} `json:"segments"`
		UsageSeconds float64 `json:"usage_seconds"`
		AudioSeconds float64 `json:"audio_seconds"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	ref, _ := os.ReadFile(filepath.Join(dev, "asr", "jfk.txt"))
	wer, _, _ := eval.WER(string(ref), res.Transcript)
	t.Logf("WER %.2f, %d deltas, %d segments: %q", wer, len(res.Deltas), len(res.Segments), res.Transcript)
	if wer > 0.3 {
		t.Errorf("WER %.2f", wer)
	}
	if strings.Join(res.Deltas, "") != res.Transcript || len(res.Deltas) == 0 {
		t.Errorf("deltas %q do not add up to %q", res.Deltas, res.Transcript)
	}
	if len(res.Segments) == 0 || !speakerTag.MatchString("["+res.Segments[0].Speaker+"] x") {
		t.Errorf("segments %+v", res.Segments)
	}
	if d := res.UsageSeconds - res.AudioSeconds; d < -0.1 || d > 0.1 {
		t.Errorf("usage %.2f s for %.2f s of audio", res.UsageSeconds, res.AudioSeconds)
	}
}

var (
	speakerTag = regexp.MustCompile(`^\[(SPEAKER_\d\d)\] (.+)$`)
	ansi       = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
)

// pyannoteAI's live diarized transcription tutorial, unchanged but for its
// Live URL, runs against one whospoke server for both halves (Live for who,
// OpenAI Realtime for what) with a fake microphone playing the two-speaker
// digit conversation at real-time pace and then pressing Ctrl+C. Its
// completed lines name both speakers and say the conversation's digits.
func TestSeed001Recipe(t *testing.T) {
	py := python(t, "openai, websockets, numpy, requests, dotenv")
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	recipe, err := os.ReadFile(filepath.Join("..", "..", "shared", "recipes", "seed001_live_diarized_transcription.py"))
	if err != nil {
		t.Skipf("recipe not found: %v", err)
	}
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env)
	const vendorURL = "https://api.pyannote.ai/v1/live"
	if strings.Count(string(recipe), vendorURL) != 1 {
		t.Fatalf("the recipe no longer holds %s once", vendorURL)
	}
	dir := t.TempDir() // also keeps load_dotenv from finding a stray .env
	script := filepath.Join(dir, "seed001.py")
	if err := os.WriteFile(script, []byte(strings.Replace(string(recipe), vendorURL, n.URL+"/v1/live", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fakemic, _ := filepath.Abs("testdata/fakemic")
	out, err := runPython(t, dir, []string{
		"PYTHONPATH=" + fakemic, "WHOSPOKE_FAKE_MIC=" + filepath.Join(dev, "sim", "sim07_digits_2spk.wav"),
		// Silence after the conversation, before Ctrl+C: the last turn's
		// speaker end, commit and decode (slow on a loaded machine).
		"WHOSPOKE_FAKE_MIC_TAIL=15",
		"PYANNOTEAI_API_KEY=" + key, "OPENAI_API_KEY=" + key, "OPENAI_BASE_URL=" + n.URL + "/v1",
	}, 4*time.Minute, py, script)
	if err != nil {
		t.Fatalf("recipe: %v\n%s\nserver:\n%s", err, out, n.Logs())
	}
	checkRecipeOutput(t, out, filepath.Join(dev, "sim", "sim07_digits_2spk.stm"))
}

// checkRecipeOutput finds the completed lines (what is left of each line
// after its last carriage return, colours removed) and scores them.
func checkRecipeOutput(t *testing.T, out, stm string) {
	t.Helper()
	var text []string
	speakers := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		parts := strings.Split(line, "\r")
		last := strings.TrimSpace(ansi.ReplaceAllString(parts[len(parts)-1], ""))
		if m := speakerTag.FindStringSubmatch(last); m != nil {
			speakers[m[1]] = true
			text = append(text, m[2])
		}
	}
	b, err := os.ReadFile(stm)
	if err != nil {
		t.Fatal(err)
	}
	var ref []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) > 5 {
			ref = append(ref, f[5:]...)
		}
	}
	wer, _, _ := eval.WER(strings.Join(ref, " "), strings.Join(text, " "))
	t.Logf("%d completed lines, speakers %v, WER %.2f:\n%s", len(text), speakers, wer, strings.Join(text, "\n"))
	// The recipe commits at the diarizer's speaker ends, which may cut a
	// word in two; whisper-tiny.en reads the pieces.
	if len(speakers) < 2 || wer > 0.45 {
		t.Errorf("want >= 2 speakers and WER <= 0.45; output:\n%s", out)
	}
}

// `whospoke stream FILE --transcription` against `whospoke serve`: one
// line per final turn, "[SPEAKER_xx] start-end text", that together say
// JFK's sentence.
func TestStreamTranscriptionCommand(t *testing.T) {
	dev := testenv.DevSet(t, "asr/jfk.wav")
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env, "--live-max-ahead", "0")
	cmd := exec.Command(bin, "stream", filepath.Join(dev, "asr", "jfk.wav"), "--url", n.URL, "--key", key,
		"--pace", "max", "--transcription")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stream: %v\n%s\nserver:\n%s", err, stderrOf(err), n.Logs())
	}
	line := regexp.MustCompile(`^\[(SPEAKER_\d\d)\] (\d+\.\d\d)-(\d+\.\d\d) (.+)$`)
	var text []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		if mustFloat(t, m[2]) > mustFloat(t, m[3]) {
			t.Errorf("line %q ends before it starts", l)
		}
		text = append(text, m[4])
	}
	ref, _ := os.ReadFile(filepath.Join(dev, "asr", "jfk.txt"))
	wer, _, _ := eval.WER(string(ref), strings.Join(text, " "))
	t.Logf("WER %.2f:\n%s", wer, out)
	if wer > 0.3 {
		t.Errorf("WER %.2f", wer)
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
