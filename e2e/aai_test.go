package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/eval"
	"github.com/whospoke/whospoke/internal/testenv"
)

// recipeScript is a vendor tutorial script from the shared recipes folder beside
// the dev set ($WHOSPOKE_RECIPES overrides); missing, the test skips like
// the dev set's do.
func recipeScript(t *testing.T, name string) string {
	dir := os.Getenv("WHOSPOKE_RECIPES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "recipes")
	}
	p, err := filepath.Abs(filepath.Join(dir, name))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("recipe %s not found (set WHOSPOKE_RECIPES): %v", name, err)
	}
	return p
}

// stmText is the reference transcript of an STM file, in time order.
func stmText(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 5 && !strings.HasPrefix(line, ";;") {
			words = append(words, f[5:]...)
		}
	}
	return strings.Join(words, " ")
}

// aaiFinalLine is how the AssemblyAI quickstart prints a final turn: it
// blanks the partial's line first.
var aaiFinalLine = regexp.MustCompile("\r {80}\r(.*)$")

var aaiSpeakerTag = regexp.MustCompile(`\[([A-Z]+)\] `)

// AssemblyAI's streaming diarization quickstart runs unchanged against
// whospoke but for its endpoint and key, its microphone a WAV played at
// real-time pace: its final lines carry both speakers of the conversation
// and its words, and it sees the session terminate.
func TestAssemblyAIRecipe(t *testing.T) {
	py := python(t, "websocket")
	script := recipeScript(t, "seed002_streaming_diarization.py")
	dev := testenv.DevSet(t, "sim/sim07_digits_2spk.wav")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env, "--permissions", "stream:write")
	n := serve(t, env)
	body := strings.Replace(string(src), "wss://streaming.assemblyai.com/v3/ws", "ws"+strings.TrimPrefix(n.URL, "http")+"/v3/ws", 1)
	body = strings.Replace(body, "<YOUR_API_KEY>", key, 1)
	if body == string(src) || strings.Contains(body, "streaming.assemblyai.com") {
		t.Fatal("the recipe's endpoint or key string changed upstream")
	}
	copyPath := filepath.Join(t.TempDir(), "quickstart.py")
	if err := os.WriteFile(copyPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fakemic, err := filepath.Abs("testdata/fakemic")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, py, copyPath)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+fakemic, "PYTHONUNBUFFERED=1",
		"WHOSPOKE_FAKE_MIC="+filepath.Join(dev, "sim", "sim07_digits_2spk.wav"),
		// The script waits only 2 s for Termination after Ctrl+C, so the
		// speaker stays quiet a while first, for the last turns to be
		// recognised even on a loaded machine.
		"WHOSPOKE_FAKE_MIC_TAIL=20")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("recipe: %v\n%s\nserver:\n%s", err, out, n.Logs())
	}
	speakers := map[string]bool{}
	var hyp []string
	for _, line := range strings.Split(string(out), "\n") {
		m := aaiFinalLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, tag := range aaiSpeakerTag.FindAllStringSubmatch(m[1], -1) {
			if tag[1] != "UNKNOWN" {
				speakers[tag[1]] = true
			}
		}
		hyp = append(hyp, aaiSpeakerTag.ReplaceAllString(m[1], ""))
	}
	// All turns in, whisper-tiny.en scores 0.1–0.2 here; the bound leaves
	// room for a turn or two the engine, behind real time on a loaded
	// machine, had not finished when the script closed.
	ref := stmText(t, filepath.Join(dev, "sim", "sim07_digits_2spk.stm"))
	wer, _, _ := eval.WER(ref, strings.Join(hyp, " "))
	t.Logf("%d final turns, speakers %v, WER %.3f", len(hyp), speakers, wer)
	if len(speakers) < 2 || wer > 0.5 || !strings.Contains(string(out), "Session terminated") {
		t.Fatalf("want ≥ 2 speakers, WER ≤ 0.5 and the termination:\n%s", out)
	}
}

// The official AssemblyAI SDK's v3 StreamingClient runs a whole session: a
// temporary token in its Authorization header, Begin, turns with words and
// speakers, Termination with the audio's duration; every message parses
// into its pydantic types and nothing reaches on_error.
func TestAssemblyAISDK(t *testing.T) {
	py := python(t, "assemblyai")
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env, "--permissions", "stream:write")
	n := serve(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/aai_sdk.py", n.URL, key, sampleWAV(t)).Output()
	if err != nil {
		t.Fatalf("sdk: %v\n%s\n%s\nserver:\n%s", err, out, stderrOf(err), n.Logs())
	}
	var res struct {
		Events struct {
			Begin, Termination []struct {
				ID                   string `json:"id"`
				AudioDurationSeconds int    `json:"audio_duration_seconds"`
			}
			Turn []struct {
				EndOfTurn       bool   `json:"end_of_turn"`
				TurnIsFormatted bool   `json:"turn_is_formatted"`
				Transcript      string `json:"transcript"`
				SpeakerLabel    string `json:"speaker_label"`
				Words           []struct {
					Speaker *string `json:"speaker"`
				} `json:"words"`
			}
		} `json:"events"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("sdk output %s: %v", out, err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("sdk errors: %v\nserver:\n%s", res.Errors, n.Logs())
	}
	ev := res.Events
	if len(ev.Begin) != 1 || ev.Begin[0].ID == "" || len(ev.Termination) != 1 || ev.Termination[0].AudioDurationSeconds < 29 {
		t.Fatalf("begin %+v, termination %+v", ev.Begin, ev.Termination)
	}
	// Turn boundaries are the engine's to test; here: formatted finals
	// whose every word carries a speaker, both of the sample's among them.
	formatted, speakers := 0, map[string]bool{}
	for _, tr := range ev.Turn {
		if !tr.EndOfTurn || !tr.TurnIsFormatted {
			continue
		}
		formatted++
		for _, w := range tr.Words {
			if w.Speaker == nil {
				t.Fatalf("final word without speaker: %+v", tr)
			}
			speakers[*w.Speaker] = true
		}
	}
	t.Logf("%d formatted final turns, word speakers %v", formatted, speakers)
	if formatted < 1 || len(speakers) < 2 {
		t.Fatalf("%d formatted final turns, word speakers %v: %+v", formatted, speakers, ev.Turn)
	}
}
