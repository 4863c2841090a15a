package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
	UsableReloadMs  float64  `json:"usableReloadMs"`
	JobID           string   `json:"jobId"`
	Lanes           int      `json:"lanes"`
	Turns           int      `json:"turns"`
	Transcript      []string `json:"transcript"`
	TranscriptNames []string `json:"transcriptNames"`
	SeekedTo        float64  `json:"seekedTo"`
	RTTMName        string   `json:"rttmName"`
	RTTM            string   `json:"rttm"`
	SRTName         string   `json:"srtName"`
	SRT             string   `json:"srt"`
	VTTName         string   `json:"vttName"`
	VTT             string   `json:"vtt"`
	JSONName        string   `json:"jsonName"`
	JSON            string   `json:"json"`
	Voiceprints     []struct {
		Label      string `json:"label"`
		Voiceprint string `json:"voiceprint"`
	} `json:"voiceprintsExported"`
	VoiceprintsName string      `json:"voiceprintsExportName"`
	BadImport       string      `json:"badImportError"`
	IdentifyJobID   string      `json:"identifyJobId"`
	Matches         [][2]string `json:"matches"`
	IdentifiedLanes []string    `json:"identifiedLanes"`
	IdentifySRT     string      `json:"identifySrt"`
	JobsListed      []jobListed `json:"jobsListed"`
	OpenedLanes     int         `json:"openedLanes"`
	NarrowOverflow  any         `json:"narrowOverflow"`
	TabReached      int         `json:"tabReached"`
	TabMissed       []string    `json:"tabMissed"`
	TabUnlabelled   []string    `json:"tabUnlabelled"`
	TabNoFocusRing  []string    `json:"tabNoFocusRing"`
	TabOffScreen    []string    `json:"tabOffScreen"`
	LowContrast     []string    `json:"lowContrast"`
	CaptionsRefused bool        `json:"captionsRefused"`
	CaptionsError   string      `json:"captionsError"`
	LiveLanes       int         `json:"liveLanes"`
	Captions        int         `json:"captions"`
	LiveFinalLanes  int         `json:"liveFinalLanes"`
	LiveCaptionsEnd int         `json:"liveFinalCaptions"`
	LiveLinesEnd    int         `json:"liveFinalLines"`
	MockCaptions    []string    `json:"mockCaptions"`
	MockTranscript  []string    `json:"mockTranscript"`
	MockFinalLanes  int         `json:"mockFinalLanes"`
	Requests        []uiRequest `json:"requests"`
	OffOrigin       []string    `json:"offOrigin"`
	ProbeSeen       bool        `json:"probeSeen"`
	PageErrors      []string    `json:"pageErrors"`
	Unsupported     string      `json:"unsupportedError"`
	Busy            string      `json:"busyError"`
}

type jobListed struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// uiRequest is one request the page made (POST bodies kept).
type uiRequest struct {
	URL    string `json:"url"`
	Method string `json:"method"`
	Body   string `json:"body"`
}

// The page in a real browser against a real server, one server and one
// browser for every step: a bad key's error; a file dropped on the page and
// diarized with transcription (lanes, turns, the transcript pane, a line
// seeking the player); rename; RTTM, SRT, VTT and JSON exports against the
// job's output; voiceprints enrolled from a clip file and from a selected
// turn, kept in the browser, exported and imported; identify naming both
// speakers; the jobs list; keyboard and a 375 px screen; live from a fake
// microphone with captions; and no request off the origin.
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
	job := getJob(t, n.URL, key, ui.JobID)
	checkResultView(t, &ui, job)
	checkExports(t, &ui, job)
	checkVoiceprints(t, &ui, getJob(t, n.URL, key, ui.IdentifyJobID))
	checkJobsList(t, &ui, n.URL, key)
	checkKeyboardAndNarrow(t, &ui)
	checkLive(t, &ui)
	if len(ui.OffOrigin) != 0 || !ui.ProbeSeen || len(ui.PageErrors) != 0 {
		t.Errorf("requests off the origin %q (a probe to another origin seen: %v); page errors %q", ui.OffOrigin, ui.ProbeSeen, ui.PageErrors)
	}
	t.Logf("unsupported file shown as %q; busy server as %q; bad import as %q", ui.Unsupported, ui.Busy, ui.BadImport)
	t.Logf("page usable %.0f ms after navigation start (%d ms around the first goto; %.0f ms on reload); %d requests, all on %s",
		ui.UsableMs, ui.LoadMs, ui.UsableReloadMs, len(ui.Requests), n.URL)
}

// checkResultView: the timeline shows the job's speakers and turns, the
// transcript pane its transcription's lines with speaker names, and a
// clicked line moved the player to that line's start.
func checkResultView(t *testing.T, ui *uiResult, job api.Job) {
	t.Helper()
	var o api.DiarizeOutput
	if err := json.Unmarshal(job.Output, &o); err != nil {
		t.Fatal(err)
	}
	speakers := map[string]bool{}
	for _, tr := range o.Diarization {
		speakers[tr.Speaker] = true
	}
	if len(speakers) != 2 || ui.Lanes != 2 || ui.Turns != len(o.Diarization) {
		t.Errorf("timeline: %d lanes, %d turns; job: %d speakers, %d turns", ui.Lanes, ui.Turns, len(speakers), len(o.Diarization))
	}
	lines := o.TurnLevelTranscription
	if len(lines) == 0 || len(ui.Transcript) != len(lines) || len(ui.TranscriptNames) != len(lines) {
		t.Fatalf("transcript pane: %d lines, %d names; job: %d lines", len(ui.Transcript), len(ui.TranscriptNames), len(lines))
	}
	for i, l := range lines {
		name := cmp.Or(l.Speaker, "unknown speaker") // a line without a speaker says so
		if ui.TranscriptNames[i] != name || !strings.Contains(ui.Transcript[i], strings.TrimSpace(l.Text)) {
			t.Errorf("transcript line %d: %q (name %q); job: %s %q", i, ui.Transcript[i], ui.TranscriptNames[i], l.Speaker, l.Text)
		}
	}
	if last := lines[len(lines)-1]; math.Abs(ui.SeekedTo-last.Start) > 0.001 {
		t.Errorf("clicking the last line seeked to %v; it starts at %v", ui.SeekedTo, last.Start)
	}
}

// checkExports: every export is what the server's own writers make of the
// job's output (output/), with the rename SPEAKER_00 → Alice applied.
func checkExports(t *testing.T, ui *uiResult, job api.Job) {
	t.Helper()
	var o api.DiarizeOutput
	if err := json.Unmarshal(job.Output, &o); err != nil {
		t.Fatal(err)
	}
	name := func(s string) string {
		if s == "SPEAKER_00" {
			return "Alice"
		}
		return s
	}
	a := &annotation.Annotation{URI: "sample"}
	for _, tr := range o.Diarization {
		a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: tr.Start, End: tr.End}, Speaker: name(tr.Speaker)})
	}
	cues := output.CuesFromTranscript(o.TurnLevelTranscription)
	for i := range cues {
		cues[i].Speaker = name(cues[i].Speaker)
	}
	var rttm, srt, vtt strings.Builder
	if output.WriteRTTM(&rttm, a) != nil || output.WriteSRT(&srt, cues) != nil || output.WriteVTT(&vtt, cues) != nil {
		t.Fatal("writing the expected exports")
	}
	for _, e := range []struct{ name, got, wantName, want string }{
		{ui.RTTMName, ui.RTTM, "sample.rttm", rttm.String()},
		{ui.SRTName, ui.SRT, "sample.srt", srt.String()},
		{ui.VTTName, ui.VTT, "sample.vtt", vtt.String()},
	} {
		if e.name != e.wantName || e.got != e.want {
			t.Errorf("exported %s:\n%s\nwant %s:\n%s", e.name, e.got, e.wantName, e.want)
		}
	}
	var want, got any
	json.Unmarshal(job.Output, &want)
	if err := json.Unmarshal([]byte(ui.JSON), &got); err != nil || ui.JSONName != "sample.json" || !reflect.DeepEqual(got, renamed(want, name)) {
		t.Errorf("exported %s (%v):\n%s\nwant the job's output with SPEAKER_00 named Alice", ui.JSONName, err, ui.JSON)
	}
}

// renamed is a decoded JSON value with every "speaker" field's label named.
func renamed(v any, name func(string) string) any {
	switch v := v.(type) {
	case []any:
		for i := range v {
			v[i] = renamed(v[i], name)
		}
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "speaker" {
				v[k] = name(s)
			} else {
				v[k] = renamed(x, name)
			}
		}
	}
	return v
}

// checkVoiceprints: Bob (from a clip file) and Alice (from a turn) were
// exported from the browser; identify named each speaker as the server
// matched it, with its confidence; and a voiceprint went only to the calls
// that use it (identify, live), never to be stored.
func checkVoiceprints(t *testing.T, ui *uiResult, job api.Job) {
	t.Helper()
	labels := []string{}
	for _, v := range ui.Voiceprints {
		labels = append(labels, v.Label)
	}
	if strings.Join(labels, ",") != "Bob,Alice" || ui.VoiceprintsName != "whospoke-voiceprints.json" {
		t.Errorf("voiceprints exported %v as %s; want Bob,Alice", labels, ui.VoiceprintsName)
	}
	var o api.IdentifyOutput
	if err := json.Unmarshal(job.Output, &o); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, m := range o.Voiceprints {
		if m.Match != nil {
			want[m.Speaker] = fmt.Sprintf("matched %s (confidence %.0f)", *m.Match, math.Round(m.Confidence[*m.Match]))
		}
	}
	got := map[string]string{}
	for _, m := range ui.Matches {
		got[m[0]] = m[1]
	}
	if len(want) != 2 || !reflect.DeepEqual(got, want) || !slices.Contains(ui.IdentifiedLanes, "Alice") || !slices.Contains(ui.IdentifiedLanes, "Bob") {
		t.Errorf("identify: page shows %v, lanes %v; server matched %v", got, ui.IdentifiedLanes, want)
	}
	// The identify result's SRT: its turns (no transcript) under the matched names.
	names := map[string]string{}
	for _, m := range o.Voiceprints {
		if m.Match != nil {
			names[m.Speaker] = *m.Match
		}
	}
	a := &annotation.Annotation{}
	for _, tr := range o.Diarization {
		a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: tr.Start, End: tr.End}, Speaker: cmp.Or(names[tr.Speaker], tr.Speaker)})
	}
	var srt strings.Builder
	if err := output.WriteSRT(&srt, output.CuesFromAnnotation(a)); err != nil || ui.IdentifySRT != srt.String() {
		t.Errorf("identify result's SRT:\n%s\nwant:\n%s", ui.IdentifySRT, srt.String())
	}
	sentTo := map[string]bool{}
	for _, r := range ui.Requests {
		for _, v := range ui.Voiceprints {
			if strings.Contains(r.Body, v.Voiceprint) {
				u, _ := url.Parse(r.URL)
				sentTo[u.Path] = true
			}
		}
	}
	delete(sentTo, "/v1/live")
	if len(sentTo) != 1 || !sentTo["/v1/identify"] {
		t.Errorf("voiceprints sent to %v; want only /v1/identify (and /v1/live)", sentTo)
	}
}

// checkJobsList: the page listed the team's jobs as the server lists them,
// with their statuses, and opened one.
func checkJobsList(t *testing.T, ui *uiResult, base, key string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v2/jobs?limit=20", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list api.JobList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var want []jobListed
	for _, j := range list.Items {
		want = append(want, jobListed{j.ID, j.Status})
	}
	if !reflect.DeepEqual(ui.JobsListed, want) || !slices.Contains(want, jobListed{ui.JobID, "succeeded"}) ||
		!slices.ContainsFunc(want, func(j jobListed) bool { return j.Status == "failed" }) {
		t.Errorf("jobs listed %v; server lists %v", ui.JobsListed, want)
	}
	if ui.OpenedLanes != 2 {
		t.Errorf("job opened from the list shows %d lanes", ui.OpenedLanes)
	}
}

// checkKeyboardAndNarrow: at 375 px nothing is wider than the screen, and
// Tab reaches every control, each with a visible label and a focus ring of
// 3:1 contrast; text meets WCAG AA contrast.
func checkKeyboardAndNarrow(t *testing.T, ui *uiResult) {
	t.Helper()
	if ui.NarrowOverflow != false {
		t.Errorf("narrow screen overflows: %v", ui.NarrowOverflow)
	}
	if ui.TabReached < 30 || len(ui.TabMissed)+len(ui.TabUnlabelled)+len(ui.TabNoFocusRing)+len(ui.TabOffScreen) != 0 {
		t.Errorf("Tab reached %d controls; missed %q; without a visible label %q; without a focus ring %q; off screen %q",
			ui.TabReached, ui.TabMissed, ui.TabUnlabelled, ui.TabNoFocusRing, ui.TabOffScreen)
	}
	if ui.LowContrast == nil || len(ui.LowContrast) != 0 {
		t.Errorf("text below WCAG AA contrast: %q", ui.LowContrast)
	}
}

// checkLive: the fake microphone's two speakers as lanes while streaming
// and in the result; captions (real, and mocked for a partial line replaced
// by its final one, whose speaker a voiceprint match then names).
func checkLive(t *testing.T, ui *uiResult) {
	t.Helper()
	if ui.LiveLanes < 2 || ui.LiveFinalLanes < 2 {
		t.Errorf("live: %d lanes while streaming, %d at the end; want 2", ui.LiveLanes, ui.LiveFinalLanes)
	}
	if ui.CaptionsRefused {
		t.Logf("live transcription refused by this server (shown as %q); captions not checked", ui.CaptionsError)
	} else if ui.Captions == 0 || ui.LiveCaptionsEnd == 0 || ui.LiveCaptionsEnd != ui.LiveLinesEnd {
		t.Errorf("live captions: %d while streaming; at the end %d captions, %d transcript lines (want equal, ≥ 1)", ui.Captions, ui.LiveCaptionsEnd, ui.LiveLinesEnd)
	}
	if len(ui.MockCaptions) != 1 || !strings.Contains(ui.MockCaptions[0], "Alice And so, my fellow Americans") ||
		len(ui.MockTranscript) != 1 || !strings.Contains(ui.MockTranscript[0], "And so, my fellow Americans") || ui.MockFinalLanes != 1 {
		t.Errorf("mocked live captions %q, final transcript %q, %d lanes", ui.MockCaptions, ui.MockTranscript, ui.MockFinalLanes)
	}
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
