// A diarization result as the page holds it, and its exports. Speakers keep
// their labels (SPEAKER_00); names are a separate map the user edits.

export interface Turn {
  speaker: string;
  start: number;
  end: number;
  confidence?: Record<string, number>;
}

export interface Line {
  speaker: string;
  start: number;
  end: number;
  text: string;
}

export interface Output {
  diarization: Turn[];
  exclusiveDiarization?: Turn[];
  turnLevelTranscription?: Line[];
  identification?: unknown[];
  voiceprints?: { speaker: string; match: string | null; confidence: Record<string, number> }[];
  [k: string]: unknown;
}

export class Result {
  names = new Map<string, string>();
  constructor(
    readonly title: string,
    readonly output: Output,
  ) {
    for (const v of output.voiceprints ?? []) if (v.match) this.names.set(v.speaker, v.match);
  }

  // The exclusive turns when they were asked for: then the view has no overlap.
  get turns(): Turn[] {
    return this.output.exclusiveDiarization ?? this.output.diarization;
  }
  get lines(): Line[] {
    return this.output.turnLevelTranscription ?? [];
  }
  // speakers in order of first speech.
  get speakers(): string[] {
    const seen: string[] = [];
    for (const t of [...this.turns].sort((a, b) => a.start - b.start)) if (!seen.includes(t.speaker)) seen.push(t.speaker);
    return seen;
  }
  get duration(): number {
    return Math.max(0, ...this.turns.map((t) => t.end));
  }
  name(speaker: string): string {
    return this.names.get(speaker) || speaker;
  }
}

const f3 = (x: number) => x.toFixed(3);

// RTTM as docs/API.md §4: labels and file id without spaces.
export function rttm(r: Result): string {
  const uri = r.title.replace(/\.[^.]*$/, "").split(/\s+/).join("_") || "audio";
  return r.turns
    .filter((t) => t.end > t.start)
    .map((t) => `SPEAKER ${uri} 1 ${f3(t.start)} ${f3(t.end - t.start)} <NA> <NA> ${r.name(t.speaker).split(/\s+/).join("_")} <NA> <NA>\n`)
    .join("");
}

// json is the job's output with the user's names in place of the labels.
export function json(r: Result): string {
  const rename = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rename);
    if (v && typeof v === "object") {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = k === "speaker" && typeof x === "string" ? r.name(x) : rename(x);
      return o;
    }
    return v;
  };
  return JSON.stringify(rename(r.output), null, 2) + "\n";
}

// cues: the transcript's lines, or the non-empty turns in time order when
// there is no text — the cues `whospoke diarize --format srt|vtt` writes
// (output/subtitles.go), so that the page's files and the CLI's agree.
function cues(r: Result): Line[] {
  if (r.lines.length) return r.lines;
  const byTime = (a: Turn, b: Turn) => a.start - b.start || a.end - b.end || (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : 0);
  return r.turns
    .filter((t) => t.end > t.start)
    .sort(byTime)
    .map((t) => ({ speaker: t.speaker, start: t.start, end: t.end, text: "" }));
}

function stamp(s: number, sep: string): string {
  const ms = Math.round((s > 0 && Number.isFinite(s) ? s : 0) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(Math.floor(ms / 3600000))}:${p(Math.floor(ms / 60000) % 60)}:${p(Math.floor(ms / 1000) % 60)}${sep}${p(ms % 1000, 3)}`;
}

// oneLine folds whitespace: a blank line would end a cue early.
const oneLine = (s: string) => s.split(/\s+/).filter(Boolean).join(" ");

export function srt(r: Result): string {
  return cues(r)
    .map((c, i) => {
      const text = oneLine(c.text);
      return `${i + 1}\n${stamp(c.start, ",")} --> ${stamp(c.end, ",")}\n[${r.name(c.speaker)}]${text ? " " + text : ""}\n\n`;
    })
    .join("");
}

// vtt gives a cue without text the speaker's name as its text: players style
// by the voice tag but do not show it.
export function vtt(r: Result): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const cue = (c: Line) => {
    const who = oneLine(r.name(c.speaker));
    return `\n${stamp(c.start, ".")} --> ${stamp(c.end, ".")}\n<v ${esc(who)}>${esc(oneLine(c.text) || r.name(c.speaker))}\n`;
  };
  return "WEBVTT\n" + cues(r).map(cue).join("");
}

export function clock(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}
