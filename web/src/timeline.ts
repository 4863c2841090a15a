// The speaker timeline: one lane per speaker, a turn as a button (so it can
// be reached with the keyboard), zoom in pixels per second, a playhead.
import { clock, type Turn } from "./model";

// Colours with at least 4.5:1 contrast against white and against the playing
// line's #fff3c4 (they also colour speaker names in the transcript).
const COLOURS = ["#1f63b5", "#c0392b", "#1e7d3a", "#8e44ad", "#9a4d00", "#00727a", "#a0306a", "#5b5b00"];

export interface View {
  speakers: string[];
  turns: Turn[];
  duration: number;
  name(speaker: string): string;
}

export function colour(speakers: string[], s: string): string {
  return COLOURS[Math.max(0, speakers.indexOf(s)) % COLOURS.length] ?? "#1f63b5";
}

export class Timeline {
  pps = 40; // pixels per second
  selected: Turn | null = null;
  onSelect: (t: Turn) => void = () => {};
  private labels = document.createElement("div");
  private scroll = document.createElement("div");
  private tracks = document.createElement("div");
  private head = document.createElement("div");
  private view: View | null = null;

  constructor(readonly el: HTMLElement) {
    this.labels.className = "labels";
    this.scroll.className = "scroll";
    this.tracks.className = "tracks";
    this.head.className = "playhead";
    this.head.hidden = true;
    this.scroll.append(this.tracks);
    el.replaceChildren(this.labels, this.scroll);
  }

  render(v: View) {
    this.view = v;
    const width = Math.max(v.duration, 1) * this.pps;
    this.tracks.style.width = `${width}px`;
    this.labels.replaceChildren(...v.speakers.map((s) => this.label(v, s)));
    this.tracks.replaceChildren(this.ruler(v.duration), ...v.speakers.map((s) => this.lane(v, s)), this.head);
  }

  // width is the visible track width, to fit a whole file into it.
  get width(): number {
    return Math.max(100, this.scroll.clientWidth - 4);
  }

  zoom(pps: number) {
    // Keep the second at the left edge in view across the zoom.
    const left = this.scroll.scrollLeft / this.pps;
    this.pps = pps;
    if (this.view) this.render(this.view);
    this.scroll.scrollLeft = left * pps;
  }

  // playhead marks the playing position (null hides it) and keeps it in view.
  playhead(t: number | null, follow = false) {
    this.head.hidden = t === null;
    if (t === null) return;
    const x = t * this.pps;
    this.head.style.left = `${x}px`;
    const { scrollLeft, clientWidth } = this.scroll;
    if (follow && (x < scrollLeft || x > scrollLeft + clientWidth - 20)) this.scroll.scrollLeft = Math.max(0, x - 40);
  }

  private label(v: View, s: string): HTMLElement {
    const d = document.createElement("div");
    d.className = "label";
    d.textContent = v.name(s);
    d.style.borderLeftColor = colour(v.speakers, s);
    return d;
  }

  private ruler(duration: number): HTMLElement {
    const r = document.createElement("div");
    r.className = "ruler";
    r.setAttribute("aria-hidden", "true");
    // A tick every 1, 5, 10 or 30 s so that ticks stay about 50 px apart.
    const step = [1, 5, 10, 30, 60].find((s) => s * this.pps >= 50) ?? 120;
    // The last tick is left out when its label would be cut at the end; 0:00
    // is always drawn (a live stream's first second has a scale too).
    for (let t = 0; t === 0 || t <= duration - step / 4; t += step) {
      const tick = document.createElement("span");
      tick.style.left = `${t * this.pps}px`;
      tick.textContent = clock(t).replace(/\.0$/, "");
      r.append(tick);
    }
    return r;
  }

  private lane(v: View, s: string): HTMLElement {
    const lane = document.createElement("div");
    lane.className = "lane";
    lane.setAttribute("role", "group");
    lane.setAttribute("aria-label", v.name(s));
    lane.dataset.speaker = s;
    for (const t of v.turns.filter((t) => t.speaker === s)) lane.append(this.turn(v, t));
    return lane;
  }

  private turn(v: View, t: Turn): HTMLElement {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "turn";
    b.style.left = `${t.start * this.pps}px`;
    b.style.width = `${Math.max(2, (t.end - t.start) * this.pps)}px`;
    b.style.backgroundColor = colour(v.speakers, t.speaker);
    // Confidence shading: a less certain turn is paler.
    const c = t.confidence?.[t.speaker];
    if (c !== undefined) b.style.opacity = String(0.35 + 0.65 * Math.min(1, c / 100));
    const conf = c === undefined ? "" : `, confidence ${Math.round(c)}`;
    b.setAttribute("aria-label", `${v.name(t.speaker)} ${clock(t.start)} to ${clock(t.end)}${conf}`);
    b.title = b.getAttribute("aria-label")!;
    if (t === this.selected) b.classList.add("selected");
    b.addEventListener("click", () => {
      this.selected = t;
      this.tracks.querySelectorAll(".turn.selected").forEach((e) => e.classList.remove("selected"));
      b.classList.add("selected");
      this.onSelect(t);
    });
    return b;
  }
}
