package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/output"
)

// webTools finds what the browser test needs: node, Debian's chromium, the
// npm packages and the built bundle (`make setup-test`). Outside CI a
// missing one skips; in CI it fails.
func webTools(t *testing.T) (node, chromium string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (make setup-test installs it)", what)
		}
		t.Skipf("%s missing; run make setup-test", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	chromium = os.Getenv("WHOSPOKE_CHROMIUM")
	if chromium == "" {
		if chromium, err = exec.LookPath("chromium"); err != nil {
			missing("chromium")
		}
	}
	for _, p := range []string{"../web/node_modules/playwright-core", "../web/dist/index.html"} {
		if _, err := os.Stat(p); err != nil {
			missing(p)
		}
	}
	return node, chromium
}

// uiResult is what web/test/ui.mjs saw and downloaded.
type uiResult struct {
	LoadMs          int      `json:"loadMs"`
	UsableMs        float64  `json:"usableMs"`
	JobID           string   `json:"jobId"`
	Lanes           int      `json:"lanes"`
	Turns           int      `json:"turns"`
	RTTMName        string   `json:"rttmName"`
	RTTM            string   `json:"rttm"`
	JobsListed      int      `json:"jobsListed"`
	Voiceprints     []string `json:"voiceprintsExported"`
	IdentifiedLanes []string `json:"identifiedLanes"`
	NarrowOverflow  any      `json:"narrowOverflow"`
	CaptionsRefused bool     `json:"captionsRefused"`
	CaptionsError   string   `json:"captionsError"`
	LiveLanes       int      `json:"liveLanes"`
	Captions        int      `json:"captions"`
	LiveFinalLanes  int      `json:"liveFinalLanes"`
	Requests        []string `json:"requests"`
	MockCaptions    []string `json:"mockCaptions"`
	MockTranscript  []string `json:"mockTranscript"`
	MockFinalLanes  int      `json:"mockFinalLanes"`
	Unsupported     string   `json:"unsupportedError"`
	Busy            string   `json:"busyError"`
}

// The page in a real browser against a real server: a bad key's error, upload
// and the timeline's lanes and turns, rename, the RTTM export against the
// job's JSON, enrolling a turn as a voiceprint and identifying with it, live from a fake microphone, and no request off the origin.
// Screenshots of each state go to web/test-results/ (not committed).
func TestWebPage(t *testing.T) {
	node, chromium := webTools(t)
	data := t.TempDir()
	env := []string{"WHOSPOKE_DATA=" + data}
	key := createKey(t, env)
	n := serve(t, env)
	out, _ := filepath.Abs("../web/test-results")
	os.RemoveAll(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// The page itself: HTML under a CSP that keeps requests on the origin.
	resp, err := http.Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("GET /: %d %v", resp.StatusCode, resp.Header)
	}
	wav := sampleWAV(t)
	cmd := exec.Command(node, "test/ui.mjs")
	cmd.Dir = "../web"
	cmd.Env = append(os.Environ(), "BASE_URL="+n.URL, "KEY="+key, "AUDIO="+wav, "CHROMIUM="+chromium, "OUT="+out)
	logs, err := cmd.CombinedOutput()
	t.Logf("ui.mjs:\n%s", logs)
	if err != nil {
		t.Fatalf("browser test: %v\nserver:\n%s", err, n.Logs())
	}
	var ui uiResult
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || json.Unmarshal(b, &ui) != nil {
		t.Fatalf("result.json: %v %s", err, b)
	}

	// The timeline shows the job's speakers and turns, and the export is the
	// job's JSON as RTTM (with the rename applied).
	job := getJob(t, n.URL, key, ui.JobID)
	var out2 api.DiarizeOutput
	if err := json.Unmarshal(job.Output, &out2); err != nil {
		t.Fatal(err)
	}
	a := &annotation.Annotation{URI: "sample"}
	speakers := map[string]bool{}
	for _, tr := range out2.Diarization {
		speakers[tr.Speaker] = true
		name := tr.Speaker
		if name == "SPEAKER_00" {
			name = "Alice"
		}
		a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: tr.Start, End: tr.End}, Speaker: name})
	}
	if len(speakers) != 2 || ui.Lanes != 2 || ui.Turns != len(out2.Diarization) {
		t.Errorf("timeline: %d lanes, %d turns; job: %d speakers, %d turns", ui.Lanes, ui.Turns, len(speakers), len(out2.Diarization))
	}
	t.Logf("unsupported file shown as %q; busy server as %q", ui.Unsupported, ui.Busy)
	var want strings.Builder
	if err := output.WriteRTTM(&want, a); err != nil {
		t.Fatal(err)
	}
	if ui.RTTMName != "sample.rttm" || ui.RTTM != want.String() {
		t.Errorf("exported %s:\n%s\nwant sample.rttm:\n%s", ui.RTTMName, ui.RTTM, want.String())
	}
	if ui.JobsListed < 1 || ui.NarrowOverflow != false {
		t.Errorf("jobs listed %d, narrow screen overflows %v", ui.JobsListed, ui.NarrowOverflow)
	}
	if strings.Join(ui.Voiceprints, ",") != "Alice" || !slices.Contains(ui.IdentifiedLanes, "Alice") {
		t.Errorf("voiceprints exported %v; identify's lanes %v, want Alice among them", ui.Voiceprints, ui.IdentifiedLanes)
	}
	if ui.LiveLanes < 2 || ui.LiveFinalLanes < 2 {
		t.Errorf("live: %d lanes while streaming, %d at the end; want 2", ui.LiveLanes, ui.LiveFinalLanes)
	}
	if ui.CaptionsRefused {
		t.Logf("live transcription refused by this server (shown as %q); captions not checked", ui.CaptionsError)
	} else if ui.Captions == 0 {
		t.Errorf("live transcription accepted but no captions shown")
	}
	// Captions from the mocked stream: the final line replaced the partial one,
	// and the final result's transcript carries it.
	if len(ui.MockCaptions) != 1 || !strings.Contains(ui.MockCaptions[0], "SPEAKER_00 And so, my fellow Americans") ||
		len(ui.MockTranscript) != 1 || !strings.Contains(ui.MockTranscript[0], "And so, my fellow Americans") || ui.MockFinalLanes != 1 {
		t.Errorf("mocked live captions %q, final transcript %q, %d lanes", ui.MockCaptions, ui.MockTranscript, ui.MockFinalLanes)
	}
	t.Logf("page usable %.0f ms after navigation start (%d ms around the first goto); %d requests, all on %s", ui.UsableMs, ui.LoadMs, len(ui.Requests), n.URL)
}

func getJob(t *testing.T, base, key, id string) api.Job {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/jobs/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var job api.Job
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || job.Status != "succeeded" {
		t.Fatalf("job %s: %v %+v", id, err, job)
	}
	return job
}
