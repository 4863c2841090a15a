// 16-bit PCM WAV in and out of the browser's audio decoder: the recorded live
// audio becomes a playable file, and a selected turn a clip to enrol.

export function encodeWav(samples: Float32Array, rate: number): Blob {
  const b = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const str = (o: number, s: string) => [...s].forEach((c, i) => b.setUint8(o + i, c.charCodeAt(0)));
  str(0, "RIFF");
  b.setUint32(4, 36 + samples.length * 2, true);
  str(8, "WAVEfmt ");
  b.setUint32(16, 16, true);
  b.setUint16(20, 1, true); // PCM
  b.setUint16(22, 1, true); // mono
  b.setUint32(24, rate, true);
  b.setUint32(28, rate * 2, true);
  b.setUint16(32, 2, true);
  b.setUint16(34, 16, true);
  str(36, "data");
  b.setUint32(40, samples.length * 2, true);
  samples.forEach((v, i) => b.setInt16(44 + i * 2, Math.max(-1, Math.min(1, v)) * 0x7fff, true));
  return new Blob([b.buffer], { type: "audio/wav" });
}

// clip decodes a file (what the browser can decode) and returns [start, end)
// seconds of its first channel as a WAV.
export async function clip(file: Blob, start: number, end: number): Promise<Blob> {
  const ctx = new OfflineAudioContext(1, 1, 16000);
  const buf = await ctx.decodeAudioData(await file.arrayBuffer());
  const ch = buf.getChannelData(0);
  return encodeWav(ch.slice(Math.floor(start * buf.sampleRate), Math.ceil(end * buf.sampleRate)), buf.sampleRate);
}
