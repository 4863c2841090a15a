// Browser test of the page against a real `whospoke serve` (started by
// e2e/web_test.go, which passes BASE_URL, KEY, AUDIO, CHROMIUM and OUT).
// Debian's chromium is driven through playwright-core; the fake microphone
// plays AUDIO. Every step waits on what the page shows, never on time.
// It writes OUT/*.png (one screenshot per state) and OUT/result.json for the
// Go side, which checks the exported RTTM against the job's JSON.
import { chromium } from "playwright-core";
import { readFile, writeFile } from "node:fs/promises";
import assert from "node:assert/strict";

const { BASE_URL, KEY, AUDIO, CHROMIUM, OUT } = process.env;
const origin = new URL(BASE_URL).origin;
const result = { requests: [] };
const shot = (page, name) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
const step = (s) => console.log(`ui: ${s}`);

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
  const page = await ctx.newPage();
  page.on("request", (r) => result.requests.push(r.url()));
  page.on("pageerror", (e) => console.log("page error:", e.message));

  // Load: time until the page says it is usable.
  const t0 = Date.now();
  await page.goto(BASE_URL);
  await page.waitForSelector("body[data-ready]");
  result.loadMs = Date.now() - t0;
  result.usableMs = await page.evaluate(() => performance.getEntriesByName("whospoke-usable")[0].startTime);
  step(`usable ${result.usableMs.toFixed(0)} ms after navigation start (${result.loadMs} ms around goto, fresh browser)`);

  // A bad key is refused in words, and not kept.
  await page.getByLabel("API key").fill("wrong-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.textContent(), /API key rejected \(401\)/);
  assert.equal(await page.evaluate(() => localStorage.getItem("whospoke.key")), null);
  await shot(page, "01-bad-key");

  await page.getByLabel("API key").fill(KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#app").waitFor();
  assert.ok(await alert.isHidden());
  await shot(page, "02-signed-in");

  // A file the server cannot decode: the failed job's reason, in words.
  await writeFile(`${OUT}/notes.txt`, "not audio\n");
  await page.setInputFiles("#file", `${OUT}/notes.txt`);
  await page.getByRole("button", { name: "Diarize" }).click();
  await alert.filter({ hasText: /Unsupported file: .*notes\.txt/ }).waitFor({ timeout: 60_000 });
  result.unsupportedError = await alert.textContent();
  await shot(page, "03-unsupported-file");

  // A busy server (429 from the rate limit, answered here by the test) is
  // said so, with when to retry.
  await page.route("**/v1/diarize", (r) =>
    r.fulfill({ status: 429, headers: { "Retry-After": "30" }, json: { requestId: "x", message: "Rate limit exceeded; retry after the time in Retry-After" } }),
  );
  await page.setInputFiles("#file", AUDIO);
  await page.getByRole("button", { name: "Diarize" }).click();
  await alert.filter({ hasText: /Server busy \(429\).*retry in 30 s/ }).waitFor();
  result.busyError = await alert.textContent();
  await page.unroute("**/v1/diarize");

  // Upload and diarize; the result shows one lane per speaker.
  await page.setInputFiles("#file", AUDIO);
  await page.getByLabel("Speakers").fill("2"); // the sample's two speakers (the reference RTTM's)
  await page.getByRole("button", { name: "Diarize" }).click();
  await page.locator("#status").filter({ hasText: /Uploading|Job/ }).waitFor();
  await shot(page, "04-running");
  await page.locator("#status").filter({ hasText: "Job succeeded" }).waitFor({ timeout: 180_000 });
  result.jobId = await page.locator("#result").getAttribute("data-job-id");
  result.lanes = await page.locator("#timeline .lane").count();
  result.turns = await page.locator("#timeline .turn").count();
  result.transcriptLines = await page.locator("#transcript li").count();
  step(`job ${result.jobId}: ${result.lanes} lanes, ${result.turns} turns`);
  await shot(page, "05-result");

  // A turn plays from its start; the playhead marks the position.
  await page.locator("#timeline .turn").first().click();
  await page.locator("#timeline .playhead").waitFor();
  await page.locator("#transcript button[aria-current]").first().waitFor();

  // The keyboard reaches a turn and plays it.
  await page.locator("#timeline .turn").nth(1).focus();
  await page.keyboard.press("Enter");
  await page.locator("#timeline .turn.selected").waitFor();
  assert.equal(await page.locator("#timeline .turn").nth(1).evaluate((b) => b.classList.contains("selected")), true);

  // Zoom in: the track area widens.
  const w0 = await page.locator("#timeline .tracks").evaluate((e) => e.scrollWidth);
  await page.getByLabel("Zoom").fill("3");
  const w1 = await page.locator("#timeline .tracks").evaluate((e) => e.scrollWidth);
  assert.ok(w1 > w0, `zoom: ${w1} <= ${w0}`);
  await page.getByLabel("Zoom").fill("0");

  // Rename SPEAKER_00 → Alice everywhere in the view.
  await page.getByLabel("Name for SPEAKER_00").fill("Alice");
  await page.getByLabel("Name for SPEAKER_00").press("Enter");
  await page.locator("#timeline .label", { hasText: "Alice" }).waitFor();
  assert.ok((await page.locator("#transcript strong", { hasText: "Alice" }).count()) > 0);
  assert.equal(await page.locator("#timeline .lane[aria-label='Alice']").count(), 1);
  await shot(page, "06-renamed");

  // Export RTTM (the Go side compares it with the job's JSON).
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "RTTM" }).click()]);
  result.rttmName = dl.suggestedFilename();
  result.rttm = await readFile(await dl.path(), "utf8");
  for (const kind of ["VTT", "SRT", "JSON"]) {
    const [d] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: kind, exact: true }).click()]);
    result[kind.toLowerCase()] = await readFile(await d.path(), "utf8");
  }

  // Voiceprints: enrol Alice from her longest turn, kept in the browser;
  // identify on the same file then names her lane with a confidence.
  const lane = page.locator("#timeline .lane[aria-label='Alice'] .turn");
  const widths = await lane.evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().width));
  await lane.nth(widths.indexOf(Math.max(...widths))).click();
  await page.getByLabel("Name", { exact: true }).fill("Alice");
  await page.getByRole("button", { name: "Enrol selected turn" }).click();
  await page.locator("#voiceprints li", { hasText: "Alice" }).waitFor({ timeout: 120_000 });
  const [vpd] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export voiceprints" }).click()]);
  result.voiceprintsExported = JSON.parse(await readFile(await vpd.path(), "utf8")).voiceprints.map((v) => v.label);
  // Removed, then imported back from the exported file.
  await page.getByRole("button", { name: "Remove Alice" }).click();
  assert.equal(await page.locator("#voiceprints li").count(), 0);
  await page.setInputFiles("#vp-import", await vpd.path());
  await page.locator("#voiceprints li", { hasText: "Alice" }).waitFor();
  await page.getByLabel("Identify enrolled voiceprints").check();
  await page.getByRole("button", { name: "Diarize" }).click();
  await page.locator("#status").filter({ hasText: "Job succeeded" }).waitFor({ timeout: 180_000 });
  await page.locator(".match", { hasText: /matched Alice \(\d+\)/ }).waitFor();
  result.identifiedLanes = await page.locator("#timeline .label").allTextContents();
  await page.getByLabel("Identify enrolled voiceprints").uncheck();
  await shot(page, "07-identified");

  // The jobs list shows the job as succeeded.
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator("#jobs tr", { hasText: "succeeded" }).first().waitFor();
  result.jobsListed = await page.locator("#jobs tbody tr").count();

  // Narrow screen: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 800 });
  result.narrowOverflow = await page.evaluate(() =>
    document.documentElement.scrollWidth > innerWidth
      ? [...document.querySelectorAll("body *")].filter((e) => !e.closest(".scroll") && e.getBoundingClientRect().right > innerWidth).map((e) => e.tagName + "#" + e.id + "." + e.className)
      : false,
  );
  await shot(page, "08-narrow");
  await page.setViewportSize({ width: 1200, height: 900 });

  // Live with captions asked for: captions appear, or the server's refusal
  // (no live transcription on this server) is shown plainly.
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
    await shot(page, "09-live-captions-refused");
    await page.getByLabel("Live captions (transcription)").uncheck();
    await page.getByRole("button", { name: "Start microphone" }).click();
  }
  // The live timeline grows: two speakers' lanes from the fake microphone.
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
  await shot(page, "11-live-done");
  step(`live: ${result.liveLanes} lanes while streaming, final ${result.liveFinalLanes} lanes ${result.liveFinalTurns} turns`);

  // Captions, with the live stream mocked in the browser: this server has no
  // live transcription yet, so POST /v1/live and the socket are answered by
  // the test with the transcription extension's events (docs/API.md §2): a
  // partial line, then its final text, which replaces it.
  await page.route("**/v1/live", (r) => r.fulfill({ json: { id: "mock", url: `${origin.replace(/^http/, "ws")}/v1/live/mock/ws?token=t` } }));
  // The final line is sent only once the test has seen the partial one: frames
  // queued before the socket opened arrive together, and a final sent by
  // frame count could replace the partial before anyone saw it.
  let partialSeen = false;
  let finalSent = false;
  await page.routeWebSocket(/\/v1\/live\/mock\/ws/, (ws) => {
    let frames = 0;
    const send = (type, data) => ws.send(JSON.stringify({ type, data }));
    const line = { speaker: "SPEAKER_00", start: 0.2, end: 1.1, words: [] };
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
        send("transcript", { ...line, text: "and so my", final: false });
      } else if (partialSeen && !finalSent) {
        finalSent = true;
        send("transcript", { ...line, text: "And so, my fellow Americans", final: true });
      }
    });
  });
  await page.getByLabel("Live captions (transcription)").check();
  await page.getByRole("button", { name: "Start microphone" }).click();
  await page.locator("#captions li", { hasText: "and so my" }).waitFor();
  partialSeen = true;
  await page.locator("#captions li", { hasText: "And so, my fellow Americans" }).waitFor();
  result.mockCaptions = await page.locator("#captions li").allTextContents();
  await shot(page, "12-live-captions-mocked");
  await stopButton.click();
  await page.locator("#live-status", { hasText: "Done" }).waitFor();
  result.mockTranscript = await page.locator("#transcript li").allTextContents();
  result.mockFinalLanes = await page.locator("#timeline .lane").count(); // nothing left from the stream before
  await page.unroute("**/v1/live");

  // Every request stayed on the server's origin.
  const away = result.requests.filter((u) => !u.startsWith(origin + "/") && !u.startsWith("blob:") && !u.startsWith("data:"));
  assert.deepEqual(away, []);
} finally {
  await writeFile(`${OUT}/result.json`, JSON.stringify(result, null, 2));
  await browser.close();
}
