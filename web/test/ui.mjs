// Browser test of the page against a real `whospoke serve` (started by
// e2e/web_test.go, which passes BASE_URL, KEY, AUDIO, CHROMIUM and OUT).
// Debian's chromium is driven through playwright-core; the fake microphone
// plays AUDIO. Every step waits on what the page shows, never on time.
// It writes OUT/*.png (one screenshot per state) and OUT/result.json for the
// Go side, which checks the exports (RTTM, SRT, VTT, JSON), the transcript
// pane and the jobs list against the server's own answers.
import { chromium } from "playwright-core";
import { readFile, writeFile } from "node:fs/promises";
import assert from "node:assert/strict";

const { BASE_URL, KEY, AUDIO, CHROMIUM, OUT } = process.env;
const origin = new URL(BASE_URL).origin;
const result = { requests: [], cspViolations: [] };
// shot saves a screenshot; the error banner must be hidden unless the state
// is one of an error.
async function shot(page, name, errorShown = false) {
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
  const banner = page.locator("#error");
  if (!errorShown) assert.ok(await banner.isHidden(), `${name}: error shown: ${await banner.textContent()}`);
}
const step = (s) => console.log(`ui: ${s}`);

// ---- helpers ---------------------------------------------------------------

// wavClip writes [start, end) seconds of a PCM WAV file as a WAV of its own:
// the clip a user would enrol a voiceprint from.
async function wavClip(src, start, end, dst) {
  const b = await readFile(src);
  let fmt, data;
  for (let off = 12; off + 8 <= b.length; ) {
    const id = b.toString("ascii", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === "fmt ") fmt = b.subarray(off + 8, off + 8 + size);
    if (id === "data") data = b.subarray(off + 8, off + 8 + size);
    off += 8 + size + (size & 1);
  }
  const rate = fmt.readUInt32LE(4);
  const align = fmt.readUInt16LE(12);
  const pcm = data.subarray(Math.floor(start * rate) * align, Math.floor(end * rate) * align);
  const chunk = (id, body) => {
    const h = Buffer.alloc(8);
    h.write(id, "ascii");
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body]);
  };
  const body = Buffer.concat([Buffer.from("WAVE"), chunk("fmt ", fmt), chunk("data", pcm)]);
  await writeFile(dst, chunk("RIFF", body));
}

// dropFile drops a file on the drop zone as a user's drag would: a
// DataTransfer holding the file, built in the page, carried by dragenter,
// dragover and drop events.
async function dropFile(page, path, name) {
  const b64 = (await readFile(path)).toString("base64");
  const dt = await page.evaluateHandle(
    ([b64, name]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: "audio/wav" }));
      return dt;
    },
    [b64, name],
  );
  const zone = page.locator("#drop");
  await zone.dispatchEvent("dragenter", { dataTransfer: dt });
  await zone.dispatchEvent("dragover", { dataTransfer: dt });
  assert.equal(await zone.evaluate((z) => z.classList.contains("over")), true, "drop zone not marked while dragging over");
  await zone.dispatchEvent("drop", { dataTransfer: dt });
}

async function download(page, button) {
  const [d] = await Promise.all([page.waitForEvent("download"), button.click()]);
  return { name: d.suggestedFilename(), path: await d.path(), text: await readFile(await d.path(), "utf8") };
}

// offOrigin lists what left (or tried to leave) the server's origin: requests
// and sockets to another origin, and what the CSP blocked.
function offOrigin() {
  const ws = origin.replace(/^http/, "ws");
  const away = result.requests
    .map((r) => r.url)
    .filter((u) => !u.startsWith(origin + "/") && !u.startsWith(ws + "/") && !u.startsWith("blob:" + origin + "/") && !u.startsWith("data:"));
  return [...away, ...result.cspViolations];
}

// ---- steps -------------------------------------------------------------------

async function signIn(page, alert) {
  const t0 = Date.now();
  await page.goto(BASE_URL);
  await page.waitForSelector("body[data-ready]");
  result.loadMs = Date.now() - t0;
  result.usableMs = await page.evaluate(() => performance.getEntriesByName("whospoke-usable")[0].startTime);
  step(`usable ${result.usableMs.toFixed(0)} ms after navigation start (${result.loadMs} ms around goto, fresh browser)`);

  // A bad key is refused in words, and not kept.
  await page.getByLabel("API key").fill("wrong-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await alert.waitFor();
  assert.match(await alert.textContent(), /API key rejected \(401\)/);
  assert.equal(await page.evaluate(() => localStorage.getItem("whospoke.key")), null);
  await shot(page, "01-bad-key", true);
  result.lowContrast = await lowContrast(page); // the error banner and the introduction

  await page.getByLabel("API key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#app").waitFor();
  assert.ok(await alert.isHidden());
  // Nothing yet: the lists say so rather than showing empty boxes.
  await page.locator("#jobs-empty").waitFor();
  await page.locator("#vp-empty").waitFor();
  await shot(page, "02-signed-in");
}

async function badFiles(page, alert) {
  // A file the server cannot decode: the failed job's reason, in words.
  await writeFile(`${OUT}/notes.txt`, "not audio\n");
  await page.setInputFiles("#file", `${OUT}/notes.txt`);
  await page.getByRole("button", { name: "Diarize" }).click();
  await alert.filter({ hasText: /Unsupported file: .*notes\.txt/ }).waitFor({ timeout: 60_000 });
  result.unsupportedError = await alert.textContent();
  await shot(page, "03-unsupported-file", true);

  // A busy server (429 from the rate limit, answered here by the test) is
  // said so, with when to retry.
  await page.route("**/v1/diarize", (r) =>
    r.fulfill({ status: 429, headers: { "Retry-After": "30" }, json: { requestId: "x", message: "Rate limit exceeded; retry after the time in Retry-After" } }),
  );
  await page.getByRole("button", { name: "Diarize" }).click();
  await alert.filter({ hasText: /Server busy \(429\).*retry in 30 s/ }).waitFor();
  result.busyError = await alert.textContent();
  await page.unroute("**/v1/diarize");
}

// The file dropped on the page, diarized with transcription: lanes, turns and
// the transcript's lines with speaker names.
async function dropAndDiarize(page) {
  await dropFile(page, AUDIO, "sample.wav");
  const size = (await readFile(AUDIO)).length;
  assert.deepEqual(await page.locator("#file").evaluate((i) => [i.files.length, i.files[0].name, i.files[0].size]), [1, "sample.wav", size]);
  await page.locator("#drop", { hasText: "Ready: sample.wav" }).waitFor();
  await page.getByLabel("Speakers").fill("2"); // the sample's two speakers (the reference RTTM's)
  await page.getByLabel("Transcription", { exact: true }).check();
  await page.getByRole("button", { name: "Diarize" }).click();
  await page.locator("#status").filter({ hasText: /Uploading|Job/ }).waitFor();
  await shot(page, "04-running");
  await page.locator("#status").filter({ hasText: "Job succeeded" }).waitFor({ timeout: 180_000 });
  await page.getByLabel("Transcription", { exact: true }).uncheck();
  result.jobId = await page.locator("#result").getAttribute("data-job-id");
  result.lanes = await page.locator("#timeline .lane").count();
  result.turns = await page.locator("#timeline .turn").count();
  result.transcript = await page.locator("#transcript li").allTextContents();
  result.transcriptNames = await page.locator("#transcript li strong").allTextContents();
  step(`job ${result.jobId}: ${result.lanes} lanes, ${result.turns} turns, ${result.transcript.length} transcript lines`);
  await shot(page, "05-result");
}

// Clicking a transcript line seeks the player to it and marks the line;
// clicking a turn (or Enter on it) plays it and marks the timeline.
async function playback(page) {
  // The position the player seeks to, as it starts seeking (whatever the
  // load, before playback moves it on).
  await page.evaluate(() => {
    const p = document.getElementById("player");
    p.addEventListener("seeking", () => (window.seekedTo = p.currentTime), { once: true });
  });
  await page.locator("#transcript button").last().click();
  await page.waitForFunction(() => window.seekedTo !== undefined);
  result.seekedTo = await page.evaluate(() => window.seekedTo);
  await page.locator("#transcript button").last().and(page.locator("[aria-current]")).waitFor();

  // The first turn plays from the top of the transcript, scrolled to the
  // bottom by the click above: the playing line is brought into view.
  await page.locator("#timeline .turn").first().click();
  await page.locator("#timeline .playhead").waitFor();
  const playing = page.locator("#transcript button[aria-current]").first();
  await playing.waitFor();
  const [lineBox, listBox] = await Promise.all([playing.boundingBox(), page.locator("#transcript").boundingBox()]);
  assert.ok(lineBox.y >= listBox.y && lineBox.y + lineBox.height <= listBox.y + listBox.height, "the playing line is scrolled out of the transcript's view");
  // The keyboard reaches a turn and plays it.
  await page.locator("#timeline .turn").nth(1).focus();
  await page.keyboard.press("Enter");
  await page.locator("#timeline .turn").nth(1).and(page.locator(".selected")).waitFor();
  await page.evaluate(() => document.getElementById("player").pause());

  // Zoom in: the track area widens.
  const w0 = await page.locator("#timeline .tracks").evaluate((e) => e.scrollWidth);
  await page.getByLabel("Zoom").fill("3");
  const w1 = await page.locator("#timeline .tracks").evaluate((e) => e.scrollWidth);
  assert.ok(w1 > w0, `zoom: ${w1} <= ${w0}`);
  await page.getByLabel("Zoom").fill("0");
}

// Rename SPEAKER_00 → Alice everywhere in the view, then export every format
// (the Go side compares each with the server's output).
async function renameAndExport(page) {
  await page.getByLabel("Name for SPEAKER_00").fill("Alice");
  await page.getByLabel("Name for SPEAKER_00").press("Enter");
  await page.locator("#timeline .label", { hasText: "Alice" }).waitFor();
  assert.ok((await page.locator("#transcript strong", { hasText: "Alice" }).count()) > 0);
  assert.equal(await page.locator("#timeline .lane[aria-label='Alice']").count(), 1);
  await shot(page, "06-renamed");
  for (const kind of ["RTTM", "SRT", "VTT", "JSON"]) {
    const d = await download(page, page.getByRole("button", { name: kind, exact: true }));
    result[kind.toLowerCase() + "Name"] = d.name;
    result[kind.toLowerCase()] = d.text;
  }
}

// Voiceprints: Bob from a clip file (SPEAKER_01's longest turn, cut by the
// test), Alice from her longest turn selected on the timeline; both kept in
// the browser (across a reload), exported, removed, a bad file refused, and
// imported back.
async function voiceprints(page, alert) {
  const turns = JSON.parse(result.json).diarization;
  const longest = (s) => turns.filter((t) => t.speaker === s).reduce((a, t) => (t.end - t.start > a.end - a.start ? t : a));
  const bob = longest("SPEAKER_01");
  await wavClip(AUDIO, bob.start, bob.end, `${OUT}/bob.wav`);
  await page.getByLabel("Name", { exact: true }).fill("Bob");
  await page.setInputFiles("#vp-file", `${OUT}/bob.wav`);
  await page.getByRole("button", { name: "Enrol from clip" }).click();
  await page.locator("#voiceprints li[data-label='Bob']").waitFor({ timeout: 120_000 });

  const lane = page.locator("#timeline .lane[aria-label='Alice'] .turn");
  const widths = await lane.evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().width));
  await lane.nth(widths.indexOf(Math.max(...widths))).click();
  await page.evaluate(() => document.getElementById("player").pause());
  await page.getByLabel("Name", { exact: true }).fill("Alice");
  await page.getByRole("button", { name: "Enrol selected turn" }).click();
  await page.locator("#voiceprints li[data-label='Alice']").waitFor({ timeout: 120_000 });
  assert.ok(await page.locator("#vp-empty").isHidden());

  const stored = () => page.evaluate(() => JSON.parse(localStorage.getItem("whospoke.voiceprints")));
  const kept = await stored();
  assert.deepEqual(kept.map((v) => v.label), ["Bob", "Alice"]);
  result.voiceprintValues = kept.map((v) => v.voiceprint);
  await page.reload();
  await page.locator("#app").waitFor();
  result.usableReloadMs = await page.evaluate(() => performance.getEntriesByName("whospoke-usable")[0].startTime);
  assert.deepEqual(await page.locator("#voiceprints li").evaluateAll((ls) => ls.map((l) => l.dataset.label)), ["Bob", "Alice"]);

  const file = await download(page, page.getByRole("button", { name: "Export voiceprints" }));
  result.voiceprintsExportName = file.name;
  result.voiceprintsExported = JSON.parse(file.text).voiceprints;
  assert.deepEqual(result.voiceprintsExported, kept);
  for (const name of ["Bob", "Alice"]) await page.getByRole("button", { name: `Remove ${name}` }).click();
  assert.equal(await page.locator("#voiceprints li").count(), 0);
  assert.deepEqual(await stored(), []);
  await page.locator("#vp-empty").waitFor();
  await page.setInputFiles("#vp-import", `${OUT}/notes.txt`);
  await alert.filter({ hasText: /Not a voiceprints file: “notes\.txt”/ }).waitFor();
  result.badImportError = await alert.textContent();
  await page.setInputFiles("#vp-import", file.path);
  await page.locator("#voiceprints li[data-label='Alice']").waitFor();
  assert.deepEqual(await stored(), kept);
}

// Identify on an upload: both enrolled speakers' lanes named, each with a
// confidence.
async function identify(page) {
  await page.setInputFiles("#file", AUDIO);
  await page.getByLabel("Speakers").fill("2");
  await page.getByLabel("Identify enrolled voiceprints").check();
  await page.getByRole("button", { name: "Diarize" }).click();
  await page.locator(".match", { hasText: /matched Alice \(confidence \d+\)/ }).waitFor({ timeout: 180_000 });
  result.identifyJobId = await page.locator("#result").getAttribute("data-job-id");
  result.matches = await page.locator("#speakers li").evaluateAll((ls) =>
    ls.map((l) => [l.querySelector("input").dataset.speaker, l.querySelector(".match")?.textContent ?? ""]),
  );
  result.identifiedLanes = await page.locator("#timeline .label").allTextContents();
  // Without a transcript, subtitles are the turns, named by the matches.
  result.identifySrt = (await download(page, page.getByRole("button", { name: "SRT", exact: true }))).text;
  await page.getByLabel("Identify enrolled voiceprints").uncheck();
  await shot(page, "07-identified");
}

// The jobs list shows every job with its status; a succeeded one opens.
async function jobs(page, alert) {
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator("#jobs tr", { hasText: "succeeded" }).first().waitFor();
  result.jobsListed = await page.locator("#jobs tbody tr").evaluateAll((rs) =>
    rs.map((r) => ({ id: r.querySelector("button").getAttribute("aria-label").replace("Open job ", ""), status: r.cells[1].textContent })),
  );
  // Newest first: identify, then the two voiceprint enrolments. A voiceprint
  // job has no timeline, and opening one says so.
  await page.getByRole("button", { name: `Open job ${result.jobsListed[1].id}` }).click();
  await alert.filter({ hasText: /enrolled a voiceprint: it has no timeline to show/ }).waitFor();
  await page.locator("#transcript").evaluate((e) => (e.scrollTop = e.scrollHeight));
  await page.getByRole("button", { name: `Open job ${result.jobId}` }).click();
  assert.ok(await alert.isHidden());
  await page.locator("#result-name", { hasText: `job ${result.jobId.slice(0, 8)}` }).waitFor();
  result.openedLanes = await page.locator("#timeline .lane").count();
  // No file here to play, and it says so; the transcript starts at its top.
  await page.locator("#no-audio").waitFor();
  assert.ok(await page.locator("#player").isHidden());
  assert.equal(await page.locator("#transcript").evaluate((e) => e.scrollTop), 0);
}

// tabWalk presses Tab through the page and reports each control it reached:
// its visible label and whether its focus is drawn; then the controls it
// never reached.
async function tabWalk(page) {
  await page.evaluate(() => {
    document.activeElement?.blur();
    for (const e of document.querySelectorAll("[data-tabbed]")) delete e.dataset.tabbed;
  });
  await page.locator("h1").click(); // Tab starts from the top of the page
  const reached = [];
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press("Tab");
    const r = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return { end: true };
      if (el.dataset.tabbed) return { again: el.dataset.tabbed === "first", same: true };
      el.dataset.tabbed = document.querySelector("[data-tabbed]") ? "yes" : "first";
      const text = (e) => (e && e.getClientRects().length ? e.innerText.trim() : "");
      let label = "";
      if (el.tagName === "BUTTON") label = text(el) || (el.classList.contains("turn") ? el.getAttribute("aria-label") : "");
      else if (el.tagName === "INPUT") label = [...el.labels].map(text).join(" ").trim();
      else label = el.getAttribute("aria-label") ?? "";
      // The focus ring (at least 3:1 against the page): the control's own outline, or for the import field
      // hidden behind its button-like label, the label's.
      const ring = (e) => {
        const st = getComputedStyle(e);
        return st.outlineStyle !== "none" && parseFloat(st.outlineWidth) >= 2 && window.testContrast(st.outlineColor, e.parentElement) >= 3;
      };
      const focusShown = el.tagName === "AUDIO" || ring(el) || (el.classList.contains("visually-hidden") && ring(el.parentElement));
      const right = el.getBoundingClientRect().right;
      const what = `${el.tagName.toLowerCase()}#${el.id}.${el.className} “${(label || el.textContent).slice(0, 24)}”`;
      return { what, label, focusShown, offScreen: right > innerWidth + 1 };
    });
    if (r.end || r.again) break;
    if (!r.same) reached.push(r);
  }
  const missed = await page.evaluate(() =>
    [...document.querySelectorAll("button, input, select, textarea, a[href], audio[controls], [tabindex]")]
      .filter((e) => !e.disabled && e.getClientRects().length && !e.dataset.tabbed)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id} ${e.textContent.trim().slice(0, 30)}`),
  );
  return { reached, missed };
}

// lowContrast lists the visible text below WCAG AA contrast: 4.5:1, or 3:1
// for large text.
function lowContrast(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((e) => e.getClientRects().length && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
      .map((e) => {
        const st = getComputedStyle(e);
        const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
        const ratio = window.testContrast(st.color, e);
        return ratio < (large ? 3 : 4.5) ? `${e.tagName.toLowerCase()}#${e.id}.${e.className} “${e.textContent.trim().slice(0, 24)}” ${ratio.toFixed(2)}:1` : "";
      })
      .filter(Boolean),
  );
}

// Narrow screen (375 px): one column, nothing wider than the screen, every
// control reachable by Tab with a visible label and a visible focus.
async function narrow(page) {
  await page.setViewportSize({ width: 375, height: 800 });
  result.narrowOverflow = await page.evaluate(() =>
    document.documentElement.scrollWidth > innerWidth
      ? [...document.querySelectorAll("body *")]
          .filter((e) => !e.closest(".scroll") && e.getBoundingClientRect().right > innerWidth)
          .map((e) => e.tagName + "#" + e.id + "." + e.className)
      : false,
  );
  const { reached, missed } = await tabWalk(page);
  result.tabReached = reached.length;
  result.tabMissed = missed;
  result.tabUnlabelled = reached.filter((r) => !r.label).map((r) => r.what);
  result.tabNoFocusRing = reached.filter((r) => !r.focusShown).map((r) => r.what);
  result.tabOffScreen = reached.filter((r) => r.offScreen).map((r) => r.what);
  result.lowContrast.push(...(await lowContrast(page))); // the app with a result, matches, lists
  step(`tab reached ${reached.length} controls; missed ${missed.length}`);
  await shot(page, "08-narrow");
  await page.getByRole("button", { name: "Diarize" }).focus();
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Tab"); // focus by keyboard, so the ring is drawn
  await page.screenshot({ path: `${OUT}/09-narrow-keyboard-focus.png` });
  await page.setViewportSize({ width: 1200, height: 900 });
}

// Live with captions from the fake microphone: two speakers' lanes grow, and
// captions appear (or the server's refusal is shown plainly).
async function liveReal(page, alert) {
  await page.getByLabel("Live captions (transcription)").check();
  await page.getByRole("button", { name: "Start microphone" }).click();
  const refused = alert.filter({ hasText: /\(400\)/ });
  const stopButton = page.getByRole("button", { name: "Stop" });
  // The wait that loses the race must not fail the run later.
  await Promise.race([refused.waitFor().catch(() => {}), stopButton.waitFor().catch(() => {})]);
  result.captionsRefused = await refused.isVisible();
  if (result.captionsRefused) {
    result.captionsError = await alert.textContent();
    step(`live transcription refused: ${result.captionsError}`);
    await shot(page, "10-live-captions-refused", true);
    await page.getByLabel("Live captions (transcription)").uncheck();
    await page.getByRole("button", { name: "Start microphone" }).click();
  }
  await page.locator("#live-timeline .lane").nth(1).waitFor({ timeout: 120_000 });
  if (!result.captionsRefused) await page.locator("#captions li").first().waitFor({ timeout: 120_000 });
  result.liveLanes = await page.locator("#live-timeline .lane").count();
  result.captions = await page.locator("#captions li").count();
  await shot(page, "10-live");
  await stopButton.click();
  await page.locator("#live-status", { hasText: "Done" }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator("#result-name").textContent(), /^live-/);
  result.liveFinalLanes = await page.locator("#timeline .lane").count();
  result.liveFinalTurns = await page.locator("#timeline .turn").count();
  // After stop only final lines remain, and they are the result's transcript.
  result.liveFinalCaptions = await page.locator("#captions li").count();
  result.liveFinalLines = await page.locator("#transcript li").count();
  await shot(page, "11-live-done");
  step(`live: ${result.liveLanes} lanes while streaming, final ${result.liveFinalLanes} lanes ${result.liveFinalTurns} turns, ${result.liveFinalCaptions} final captions`);
}

// Captions with the live stream mocked in the browser, so the order of
// events is the test's: a partial line before the diarizer has named its
// speaker (speaker ""), then the final line, which replaces it.
async function liveMocked(page) {
  await page.route("**/v1/live", (r) => r.fulfill({ json: { id: "mock", url: `${origin.replace(/^http/, "ws")}/v1/live/mock/ws?token=t` } }));
  // The final line is sent only once the test has seen the partial one: frames
  // queued before the socket opened arrive together, and a final sent by
  // frame count could replace the partial before anyone saw it.
  let partialSeen = false;
  let finalSent = false;
  let finalSeen = false;
  let matchSent = false;
  await page.routeWebSocket(/\/v1\/live\/mock\/ws/, (ws) => {
    let frames = 0;
    const send = (type, data) => ws.send(JSON.stringify({ type, data }));
    const line = { start: 0.2, end: 1.1, words: [] };
    ws.onMessage((m) => {
      if (typeof m === "string") {
        if (JSON.parse(m).type !== "end_of_stream") return;
        send("diarization_speaker_end", { timestamp: frames / 10, speaker: "SPEAKER_00" });
        ws.close({ code: 1000, reason: "end of stream" });
        return;
      }
      assert.equal(m.length, 6400); // 100 ms of 16 kHz pcm_f32le
      if (++frames === 3) {
        send("diarization_speaker_start", { timestamp: 0.2, speaker: "SPEAKER_00" });
        send("transcript", { ...line, speaker: "", text: "and so my", final: false });
      } else if (partialSeen && !finalSent) {
        finalSent = true;
        send("transcript", { ...line, speaker: "SPEAKER_00", text: "And so, my fellow Americans", final: true });
      } else if (finalSeen && !matchSent) {
        // A voiceprint matches after the line was shown: the line takes the name.
        matchSent = true;
        send("diarization_speaker_end", { timestamp: frames / 10, speaker: "SPEAKER_00", match: "Alice" });
      }
    });
  });
  await page.getByLabel("Live captions (transcription)").check();
  await page.getByRole("button", { name: "Start microphone" }).click();
  await page.locator("#captions li", { hasText: "and so my" }).waitFor();
  partialSeen = true;
  await page.locator("#captions li", { hasText: "And so, my fellow Americans" }).waitFor();
  finalSeen = true;
  await page.locator("#captions li strong", { hasText: "Alice" }).waitFor();
  result.mockCaptions = await page.locator("#captions li").allTextContents();
  await shot(page, "12-live-captions-mocked");
  await page.getByRole("button", { name: "Stop" }).click();
  await page.locator("#live-status", { hasText: "Done" }).waitFor();
  result.mockTranscript = await page.locator("#transcript li").allTextContents();
  result.mockFinalLanes = await page.locator("#timeline .lane").count(); // nothing left from the stream before
  await page.unroute("**/v1/live");
}

// Every request stayed on the server's origin; then a probe request to
// another origin shows that the recorder would have seen one.
async function sameOrigin(page) {
  result.offOrigin = offOrigin();
  assert.deepEqual(result.offOrigin, []);
  await page.evaluate(() => fetch("http://127.0.0.2:9/probe").catch(() => {}));
  for (let i = 0; i < 100 && !offOrigin().some((u) => u.includes("127.0.0.2:9")); i++) await new Promise((r) => setTimeout(r, 20));
  result.probeSeen = offOrigin().some((u) => u.includes("127.0.0.2:9"));
}

// ---- the run -------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${AUDIO}`,
    "--autoplay-policy=no-user-gesture-required",
  ],
});
try {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  // Record every request of the page (and its workers) with its JSON body,
  // every socket, and every request the CSP blocked.
  ctx.on("request", (r) => result.requests.push({ url: r.url(), method: r.method(), body: r.method() === "POST" ? (r.postData() ?? "") : "" }));
  await ctx.exposeBinding("cspViolation", (_, v) => result.cspViolations.push(v));
  await ctx.addInitScript(() => {
    addEventListener("securitypolicyviolation", (e) => window.cspViolation(`${e.blockedURI} (${e.violatedDirective})`));
    // WCAG 2 contrast of a colour against what is behind an element (the
    // first opaque background up its ancestors), for the checks of text and
    // focus rings. An init script, as the page's CSP allows no inline code.
    const rgb = (s) => s.match(/[\d.]+/g).map(Number);
    const lum = (c) => {
      const f = (x) => (x / 255 <= 0.03928 ? x / 255 / 12.92 : ((x / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const behind = (e) => {
      for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0) return c;
      }
      return [255, 255, 255];
    };
    window.testContrast = (colour, e) => {
      const [a, b] = [lum(rgb(colour)), lum(behind(e))].sort((x, y) => y - x);
      return (a + 0.05) / (b + 0.05);
    };
  });
  const page = await ctx.newPage();
  page.on("websocket", (ws) => result.requests.push({ url: ws.url(), method: "WS", body: "" }));
  page.on("pageerror", (e) => {
    result.pageErrors = [...(result.pageErrors ?? []), e.message];
    console.log("page error:", e.message);
  });
  const alert = page.getByRole("alert");

  // Each step's wall time is logged, to see where the run's time goes.
  result.stepMs = {};
  const steps = [signIn, badFiles, dropAndDiarize, playback, renameAndExport, voiceprints, identify, narrow, jobs, liveReal, liveMocked, sameOrigin];
  for (const f of steps) {
    const t0 = Date.now();
    await f(page, alert);
    result.stepMs[f.name] = Date.now() - t0;
  }
  step(`step times (ms): ${JSON.stringify(result.stepMs)}`);
} finally {
  await writeFile(`${OUT}/result.json`, JSON.stringify(result, null, 2));
  await browser.close();
}
