// The page: sign in, upload and diarize, the result (timeline, player,
// transcript, names, exports), live from the microphone, voiceprints, jobs.
import "./style.css";
import { ApiError, call, key, upload, waitJob, type Job } from "./api";
import { Live } from "./live";
import { clock, json, Result, rttm, srt, vtt, type Output, type Turn } from "./model";
import { colour, Timeline } from "./timeline";
import * as vp from "./voiceprints";
import { clip } from "./wav";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

// ---- errors: one banner, in words ------------------------------------------

function showError(e: unknown) {
  const msg = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  $("error").textContent = msg;
  $("error").hidden = false;
}
function clearError() {
  $("error").hidden = true;
}
// guard runs an action and shows what went wrong instead of failing silently.
const guard =
  <A extends unknown[]>(f: (...a: A) => Promise<void>) =>
  async (...a: A) => {
    clearError();
    try {
      await f(...a);
    } catch (e) {
      showError(e);
    }
  };

function download(b: Blob, name: string) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(b);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- sign in -----------------------------------------------------------------

function signedIn(on: boolean) {
  $("signin").hidden = on;
  $("signedin").hidden = !on;
  $("app").hidden = !on;
  $("intro").hidden = on;
  if (!on) return;
  performance.mark("whospoke-app-shown"); // read by web/test/load.mjs
  refreshJobs().catch(showError);
}

async function signIn(k: string) {
  await call("GET", "/v1/test", undefined, k); // a bad key throws "API key rejected (401)"
  key.set(k);
  signedIn(true);
}

// ---- the result view -----------------------------------------------------------

// A transcript line the diarizer gave no speaker (live: too few words to tell).
const UNKNOWN = "unknown speaker";

const timeline = new Timeline($("timeline"));
const player = $<HTMLAudioElement>("player");
let result: Result | null = null;
let file: File | null = null; // the uploaded file the result is of, for enrolling a turn
let stopAt = Infinity; // a clicked turn plays to its end

function showResult(r: Result, audio: Blob | null) {
  result = r;
  $("result").hidden = false;
  $("result-name").textContent = r.title;
  player.hidden = !audio;
  $("no-audio").hidden = !!audio;
  if (player.src) URL.revokeObjectURL(player.src);
  player.removeAttribute("src");
  if (audio) player.src = URL.createObjectURL(audio);
  timeline.selected = null;
  timeline.playhead(null);
  stopAt = Infinity;
  $<HTMLButtonElement>("vp-turn").disabled = true;
  input("zoom").value = "0";
  zoom();
  redraw();
  $("transcript").scrollTop = 0; // a new result starts at its first line
}

// Zoom is a factor over "the whole file fits the width" (1× to 64×).
function zoom() {
  if (!result) return;
  const factor = 2 ** Number(input("zoom").value);
  input("zoom").setAttribute("aria-valuetext", `${factor}×`);
  timeline.zoom((timeline.width / Math.max(result.duration, 1)) * factor);
}

function redraw() {
  if (!result) return;
  const r = result;
  timeline.render({ speakers: r.speakers, turns: r.turns, duration: r.duration, name: (s) => r.name(s) });
  drawTranscript(r);
  drawSpeakers(r);
}

// The transcript: the transcription's lines, or the turns when there is none.
function drawTranscript(r: Result) {
  const lines = r.lines.length ? r.lines : [...r.turns].sort((a, b) => a.start - b.start).map((t) => ({ ...t, text: "" }));
  $("transcript").replaceChildren(
    ...lines.map((l) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.start = String(l.start);
      b.dataset.end = String(l.end);
      const who = document.createElement("strong");
      who.textContent = r.name(l.speaker) || UNKNOWN;
      who.style.color = colour(r.speakers, l.speaker);
      b.append(`${clock(l.start)}–${clock(l.end)} `, who, l.text ? ` ${l.text}` : "");
      b.addEventListener("click", () => play(l.start, l.end));
      li.append(b);
      return li;
    }),
  );
}

// Speakers: a name field each (SPEAKER_00 → "Alice"), with identify's match.
function drawSpeakers(r: Result) {
  const matches = new Map((r.output.voiceprints ?? []).map((v) => [v.speaker, v]));
  $("speakers").replaceChildren(
    ...r.speakers.map((s) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = colour(r.speakers, s);
      const field = document.createElement("input");
      field.value = r.names.get(s) ?? "";
      field.placeholder = s;
      field.dataset.speaker = s;
      field.addEventListener("change", () => {
        r.names.set(s, field.value.trim());
        redraw();
      });
      label.append(swatch, `Name for ${s} `, field);
      li.append(label);
      const m = matches.get(s);
      if (m) {
        const best = Object.entries(m.confidence ?? {}).sort((a, b) => b[1] - a[1])[0];
        const note = document.createElement("span");
        note.className = "match";
        note.textContent = m.match
          ? `matched ${m.match} (confidence ${Math.round(m.confidence[m.match] ?? 0)})`
          : best
            ? `no match (closest ${best[0]}, confidence ${Math.round(best[1])})`
            : "no match";
        li.append(note);
      }
      return li;
    }),
  );
}

function play(start: number, end: number) {
  if (player.hidden) return;
  player.currentTime = start;
  stopAt = end;
  // A play() cut short by the next click or a pause is not an error.
  player.play().catch((e: unknown) => {
    if (!(e instanceof DOMException && e.name === "AbortError")) showError(`Cannot play the audio: ${e instanceof Error ? e.message : e}`);
  });
}

// Mark the playing position on the timeline and in the transcript.
function tick() {
  const t = player.currentTime;
  if (t >= stopAt) {
    player.pause();
    stopAt = Infinity;
  }
  timeline.playhead(t, !player.paused);
  const list = $("transcript");
  for (const b of list.querySelectorAll<HTMLButtonElement>("button")) {
    const on = t >= Number(b.dataset.start) && t < Number(b.dataset.end);
    if (on && !b.hasAttribute("aria-current")) {
      b.setAttribute("aria-current", "true");
      keepInView(list, b);
    } else if (!on) b.removeAttribute("aria-current");
  }
  if (!player.paused) requestAnimationFrame(tick);
}

// keepInView scrolls the transcript (not the page) so that the playing line
// shows, a third of the way down.
function keepInView(list: HTMLElement, line: HTMLElement) {
  const l = list.getBoundingClientRect();
  const r = line.getBoundingClientRect();
  if (r.top < l.top || r.bottom > l.bottom) list.scrollTop += r.top - l.top - l.height / 3;
}

timeline.onSelect = (t: Turn) => {
  $<HTMLButtonElement>("vp-turn").disabled = !file;
  play(t.start, t.end);
};

// ---- upload ------------------------------------------------------------------------

const num = (id: string) => (input(id).value ? Number(input(id).value) : undefined);

async function diarize() {
  const f = input("file").files?.[0];
  if (!f) throw new Error("Choose a file first");
  const voiceprints = vp.list();
  const identify = input("identify").checked;
  if (identify && !voiceprints.length) throw new Error("Enrol a voiceprint before identifying");
  const body = {
    url: "",
    numSpeakers: num("num"),
    minSpeakers: num("min"),
    maxSpeakers: num("max"),
    exclusive: input("exclusive").checked || undefined,
    confidence: true,
    turnLevelConfidence: true,
    ...(identify ? { voiceprints } : { transcription: input("transcription").checked || undefined }),
  };
  const status = (s: string) => ($("status").textContent = s);
  $("progress").hidden = false;
  $<HTMLButtonElement>("run").disabled = true;
  try {
    status("Uploading…");
    body.url = await upload(f, f.name);
    const { jobId } = await call<{ jobId: string }>("POST", identify ? "/v1/identify" : "/v1/diarize", body);
    const job = await waitJob<Output>(jobId, (s) => status(`Job ${s}`)).catch((e) => {
      // The server's reason names its own temporary paths and ffmpeg's
      // words; say what it means for the user instead.
      if (/Could not load audio/.test(e.message)) throw new ApiError(`Unsupported file: the server could not decode “${f.name}” as audio or video`);
      throw e;
    });
    file = f;
    showResult(new Result(f.name, job.output!), f);
    status(`Job succeeded: ${job.output!.diarization.length} turns`);
    $("result").dataset.jobId = jobId;
  } finally {
    $("progress").querySelector("progress")!.hidden = true;
    $<HTMLButtonElement>("run").disabled = false;
    refreshJobs().catch(() => {});
  }
}

const size = (n: number) => (n < 1e6 ? `${Math.max(1, Math.round(n / 1e3))} KB` : `${(n / 1e6).toFixed(1)} MB`);

function dropZone() {
  const zone = $("drop");
  const chosen = () => {
    const f = input("file").files?.[0];
    zone.querySelector("span")!.textContent = f
      ? `Ready: ${f.name} (${size(f.size)}). Drop or choose another file to replace it.`
      : "Drop an audio or video file here, or choose one";
  };
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer?.files.length) input("file").files = e.dataTransfer.files;
    chosen();
  });
  input("file").addEventListener("change", chosen);
}

// ---- live ------------------------------------------------------------------------

const liveTimeline = new Timeline($("live-timeline"));
let liveSpeakers: string[] = []; // the live lanes' order, which gives captions their lane's colour
const live = new Live({
  turns(turns, now, names) {
    const speakers = (liveSpeakers = [...new Set(turns.map((t) => t.speaker))]);
    liveTimeline.render({ speakers, turns, duration: now, name: (s) => names.get(s) ?? s });
    liveTimeline.playhead(now, true);
  },
  captions(lines, names) {
    $("captions").replaceChildren(
      ...lines.map((l) => {
        const li = document.createElement("li");
        const who = document.createElement("strong");
        who.textContent = names.get(l.speaker) || l.speaker || UNKNOWN;
        who.style.color = colour(liveSpeakers, l.speaker);
        li.append(`${clock(l.start)} `, who, ` ${l.text}`);
        return li;
      }),
    );
  },
  status: (s) => ($("live-status").textContent = s),
  error: showError,
  done(out, audio, names) {
    micButton(false);
    file = null;
    const r = new Result(`live-${new Date().toISOString().slice(0, 19)}`, out);
    names.forEach((n, s) => r.names.set(s, n));
    showResult(r, audio);
  },
});

function micButton(on: boolean) {
  $("mic").textContent = on ? "Stop" : "Start microphone";
  $("mic").setAttribute("aria-pressed", String(on));
}

async function toggleLive() {
  if (live.running) return live.stop();
  $("captions").replaceChildren();
  $("live-timeline").hidden = false;
  await live.start(input("live-transcription").checked, vp.list());
  micButton(true);
}

// ---- voiceprints -------------------------------------------------------------------

async function enrol(clipFile: Blob, name: string) {
  const label = input("vp-name").value.trim();
  if (!label) throw new Error("Give the voiceprint a name");
  const url = await upload(clipFile, name);
  const { jobId } = await call<{ jobId: string }>("POST", "/v1/voiceprint", { url });
  const job = await waitJob<{ voiceprint: string; warning?: string }>(jobId, (s) => ($("status").textContent = `Voiceprint ${s}`));
  vp.add({ label, voiceprint: job.output!.voiceprint });
  if (job.output!.warning) showError(`Enrolled ${label}, but: ${job.output!.warning}`);
  drawVoiceprints();
}

function drawVoiceprints() {
  const vps = vp.list();
  $("vp-empty").hidden = vps.length > 0;
  $("voiceprints").replaceChildren(
    ...vps.map((v) => {
      const li = document.createElement("li");
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "Remove";
      del.setAttribute("aria-label", `Remove ${v.label}`);
      del.addEventListener("click", () => {
        vp.remove(v.label);
        drawVoiceprints();
      });
      li.dataset.label = v.label;
      li.append(`${v.label} `, del);
      return li;
    }),
  );
}

// ---- jobs --------------------------------------------------------------------------

async function refreshJobs() {
  const { items } = await call<{ items: { id: string; status: string; createdAt: string }[] }>("GET", "/v2/jobs?limit=20");
  $("jobs-empty").hidden = items.length > 0;
  $("jobs").hidden = items.length === 0;
  $("jobs").querySelector("tbody")!.replaceChildren(
    ...items.map((j) => {
      const tr = document.createElement("tr");
      const open = document.createElement("button");
      open.type = "button";
      open.textContent = j.id.slice(0, 8);
      open.setAttribute("aria-label", `Open job ${j.id}`);
      open.disabled = j.status !== "succeeded";
      open.addEventListener("click", guard(() => openJob(j.id)));
      const cells = [open, j.status, new Date(j.createdAt).toLocaleString()].map((c) => {
        const td = document.createElement("td");
        td.append(c);
        return td;
      });
      tr.append(...cells);
      return tr;
    }),
  );
}

async function openJob(id: string) {
  const job = await call<Job<Output & { voiceprint?: string }>>("GET", `/v1/jobs/${id}`);
  if (job.output?.voiceprint) throw new Error(`Job ${id.slice(0, 8)} enrolled a voiceprint: it has no timeline to show`);
  if (!job.output?.diarization) throw new Error(`Job ${id.slice(0, 8)} has no diarization to show`);
  file = null;
  showResult(new Result(`job ${id.slice(0, 8)}`, job.output), null);
}

// ---- wiring ------------------------------------------------------------------------

function wire() {
  $("signin").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(() => signIn(input("key").value.trim()))();
  });
  $("signout").addEventListener("click", () => {
    key.clear();
    signedIn(false);
  });
  $("upload").addEventListener("submit", (e) => {
    e.preventDefault();
    $("progress").querySelector("progress")!.hidden = false;
    guard(diarize)();
  });
  dropZone();
  input("zoom").addEventListener("input", zoom);
  addEventListener("resize", zoom); // "fits the width" follows the window (a turned phone)
  player.addEventListener("play", () => requestAnimationFrame(tick));
  player.addEventListener("seeked", tick);
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-export]"))
    b.addEventListener("click", () => exportAs(b.dataset.export!));
  $("mic").addEventListener("click", guard(toggleLive));
  $("enrol").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = input("vp-file").files?.[0];
    guard(async () => {
      if (!f) throw new Error("Choose a clip of one speaker (at most 30 s)");
      await enrol(f, f.name);
    })();
  });
  $("vp-turn").addEventListener(
    "click",
    guard(async () => {
      const t = timeline.selected;
      if (!t || !file) throw new Error("Select a turn of an uploaded file first");
      await enrol(await clip(file, t.start, Math.min(t.end, t.start + 30)), "turn.wav");
    }),
  );
  $("vp-export").addEventListener("click", () => download(vp.exportFile(), "whospoke-voiceprints.json"));
  input("vp-import").addEventListener(
    "change",
    guard(async () => {
      const f = input("vp-import").files?.[0];
      if (f) await vp.importFile(f);
      drawVoiceprints();
    }),
  );
  $("jobs-refresh").addEventListener("click", guard(refreshJobs));
}

function exportAs(kind: string) {
  if (!result) return;
  const text = { rttm, json, srt, vtt }[kind as "rttm"](result);
  const stem = result.title.replace(/\.[^.]*$/, "");
  download(new Blob([text], { type: kind === "json" ? "application/json" : "text/plain" }), `${stem}.${kind}`);
}

wire();
drawVoiceprints();
if (key.get()) guard(() => signIn(key.get()))();
else signedIn(false);
// The page is usable: tests wait on the attribute and read the mark (time
// from the start of navigation).
performance.mark("whospoke-usable");
document.body.dataset.ready = "true";
