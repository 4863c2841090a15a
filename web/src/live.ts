// Live diarization from the microphone over the Live protocol (docs/API.md §2):
// 100 ms pcm_f32le frames at 16 kHz from the AudioWorklet, speaker events
// growing the timeline, transcript events as captions (the transcription
// extension), and on stop the flushed final result.
import { call, onOrigin } from "./api";
import type { Line, Output, Turn } from "./model";
import type { Voiceprint } from "./voiceprints";
import { encodeWav } from "./wav";

export interface LiveHooks {
  turns(turns: Turn[], now: number, names: Map<string, string>): void;
  captions(lines: Line[], names: Map<string, string>): void;
  status(s: string): void;
  error(msg: string): void;
  done(out: Output, audio: Blob | null, names: Map<string, string>): void;
}

// The recorded audio (for the player after stop) is kept up to 30 min
// (115 MB of float32); a longer stream's result has no player.
const MAX_KEPT = 18000;

interface TranscriptEvent extends Line {
  final: boolean;
}

// Frames from the worklet, always over a plain (transferred) ArrayBuffer.
type Frame = Float32Array<ArrayBuffer>;

// LiveEvent is a server message: speaker events carry speaker, timestamp and
// (with voiceprints) match; transcript events a TranscriptEvent; errors a message.
interface LiveEvent {
  type: string;
  data?: Partial<TranscriptEvent> & { speaker: string; timestamp: number; match?: string };
  message?: string;
}

export class Live {
  private ws: WebSocket | null = null;
  private ctx: AudioContext | null = null;
  private mic: MediaStream | null = null;
  private frames: Frame[] = []; // recorded, for the player
  private keep = true;
  private pending: Frame[] = []; // captured before the socket opened
  private sent = 0;
  private turns: Turn[] = [];
  private open = new Map<string, Turn>();
  private finals: Line[] = [];
  private partial: Line | null = null; // the open turn's latest hypothesis
  private names = new Map<string, string>(); // live identification's matches

  constructor(private hooks: LiveHooks) {}

  get running(): boolean {
    return this.ws !== null;
  }

  private get now(): number {
    return this.sent / 10;
  }

  // reset forgets the previous stream: each start is a new session.
  private reset() {
    this.frames = [];
    this.keep = true;
    this.pending = [];
    this.sent = 0;
    this.turns = [];
    this.open.clear();
    this.finals = [];
    this.partial = null;
    this.names.clear();
  }

  async start(transcription: boolean, voiceprints: Voiceprint[]) {
    this.reset();
    // Only ask for transcription when the user ticked it: a server without a
    // live transcriber refuses it (400), and that refusal is shown as it is.
    // Enrolled voiceprints name live speakers as soon as they match.
    const body = {
      ...(transcription ? { transcription: true } : {}),
      ...(voiceprints.length ? { voiceprints: voiceprints.slice(0, 50) } : {}),
    };
    const { url } = await call<{ url: string }>("POST", "/v1/live", body);
    this.mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    this.ctx = new AudioContext();
    await this.ctx.audioWorklet.addModule("/assets/worklet.js");
    const node = new AudioWorkletNode(this.ctx, "frames");
    this.ctx.createMediaStreamSource(this.mic).connect(node);
    node.connect(this.ctx.destination); // pulls the graph; the node outputs silence
    const ws = new WebSocket(onOrigin(url, true));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (e) => this.event(JSON.parse(e.data));
    ws.onclose = (e) => this.closed(e);
    node.port.onmessage = (e) => this.frame(e.data as Frame);
    this.hooks.status("Listening");
  }

  stop() {
    this.mic?.getTracks().forEach((t) => t.stop());
    this.ctx?.close();
    this.mic = this.ctx = null;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "end_of_stream" }));
    this.hooks.status("Finishing…");
  }

  private frame(f: Frame) {
    this.record(f);
    this.pending.push(f);
    if (this.ws?.readyState !== WebSocket.OPEN) return; // sent with the next frame once open
    for (const p of this.pending) this.ws.send(p);
    this.sent += this.pending.length;
    this.pending = [];
    for (const t of this.open.values()) t.end = this.now;
    this.hooks.turns(this.turns, this.now, this.names);
  }

  private record(f: Frame) {
    if (this.keep && this.frames.length >= MAX_KEPT) [this.keep, this.frames] = [false, []];
    if (this.keep) this.frames.push(f);
  }

  private event(ev: LiveEvent) {
    if (ev.type === "error") return this.hooks.error(`Live: ${ev.message}`);
    const d = ev.data;
    if (!d) return; // an event this page does not know, without data
    if (d.match && this.names.get(d.speaker) !== d.match) {
      this.names.set(d.speaker, d.match);
      this.showCaptions(); // lines already shown take the name too
    }
    switch (ev.type) {
      case "diarization_speaker_start": {
        const t: Turn = { speaker: d.speaker, start: d.timestamp, end: Math.max(d.timestamp, this.now) };
        this.turns.push(t);
        this.open.set(d.speaker, t);
        break;
      }
      case "diarization_speaker_end": {
        const t = this.open.get(d.speaker);
        if (t) t.end = d.timestamp;
        this.open.delete(d.speaker);
        break;
      }
      case "transcript":
        this.caption(d as TranscriptEvent);
        return;
      default:
        return;
    }
    this.hooks.turns(this.turns, this.now, this.names);
  }

  // The server has one open turn at a time: a partial line replaces the one
  // before it, and a final line ends it (its speaker may differ from the
  // partial's, which can be "" before the diarizer has decided).
  private caption(l: TranscriptEvent) {
    const line = { speaker: l.speaker, start: l.start, end: l.end, text: l.text };
    if (l.final) {
      this.finals.push(line);
      this.finals.sort((a, b) => a.start - b.start);
      this.partial = null;
    } else this.partial = line;
    this.showCaptions();
  }

  private showCaptions() {
    this.hooks.captions(this.partial ? [...this.finals, this.partial] : this.finals, this.names);
  }

  private closed(e: CloseEvent) {
    this.ws = null;
    this.mic?.getTracks().forEach((t) => t.stop());
    this.ctx?.close();
    this.mic = this.ctx = null;
    if (e.code !== 1000) this.hooks.error(`Live stream closed (${e.code})${e.reason ? ": " + e.reason : ""}`);
    for (const t of this.open.values()) t.end = this.now;
    let audio: Blob | null = null;
    if (this.keep) {
      const all = new Float32Array(this.frames.length * 1600);
      this.frames.forEach((f, i) => all.set(f, i * 1600));
      audio = encodeWav(all, 16000);
    }
    // A hypothesis the stream never made final is not part of the result.
    if (this.partial) this.hooks.captions(this.finals, this.names);
    this.partial = null;
    const out: Output = { diarization: [...this.turns].sort((a, b) => a.start - b.start) };
    if (this.finals.length) out.turnLevelTranscription = this.finals;
    this.hooks.status(`Done: ${this.now.toFixed(1)} s of audio`);
    this.hooks.done(out, audio, this.names);
  }
}
