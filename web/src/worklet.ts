// AudioWorklet processor: turns the microphone (at the context's rate, often
// 48 kHz) into 100 ms frames of 16 kHz mono float32 — the Live protocol's
// 1,600-sample frames — and posts each to the page.

const OUT_RATE = 16000;
const FRAME = 1600;

// Declared by the AudioWorkletGlobalScope.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: unknown): void;

class Frames extends AudioWorkletProcessor {
  private ratio = sampleRate / OUT_RATE; // input samples per output sample
  private pos = 0; // position of the next output sample in the input stream
  private acc = 0; // sum and count of input samples for the output sample being built
  private n = 0;
  private index = 0; // index of the next input sample
  private frame = new Float32Array(FRAME);
  private filled = 0;

  // Box-filter decimation: each output sample is the mean of the input
  // samples it covers, which also keeps most aliasing out.
  process(inputs: Float32Array[][]): boolean {
    const ch = inputs[0]?.[0];
    if (!ch) return true;
    for (const v of ch) {
      this.acc += v;
      this.n++;
      if (this.index + 1 >= this.pos + this.ratio) {
        this.push(this.acc / this.n);
        this.pos += this.ratio;
        this.acc = 0;
        this.n = 0;
      }
      this.index++;
    }
    return true;
  }

  private push(v: number) {
    this.frame[this.filled++] = v;
    if (this.filled === FRAME) {
      this.port.postMessage(this.frame, [this.frame.buffer]);
      this.frame = new Float32Array(FRAME);
      this.filled = 0;
    }
  }
}

registerProcessor("frames", Frames);
