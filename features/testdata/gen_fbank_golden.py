#!/usr/bin/python3
"""Writes the golden fixtures for features/fbank_test.go.

The reference is torchaudio.compliance.kaldi.fbank with the CAM++ settings
(num_mel_bins=80, sample_frequency=16000, dither=0) on float samples in
[-1, 1]. Run with Debian's python3-torchaudio; files land beside this script:

    /usr/bin/python3 gen_fbank_golden.py [/work/shared]

Outputs (all arrays little-endian float32, frame-major):
  golden.json                 shapes, sources and tool versions
  synthetic_samples.f32       the synthetic input, so Go reads the exact samples
  synthetic_fbank.f32         its fbank
  head_fbank.f32              fbank of the first 2.0 s of the shared sample.wav:
                              near-silence (|x| <= 79/32768), so many values
                              sit at or near the log floor
  speech_fbank.f32            fbank of 2.0 s of speech from 6.5 s (two turns)
  speech_fbank_meannorm.f32   the same minus its per-bin mean over frames

The speech audio itself is not copied here; the Go test reads it from the
shared folder.
"""

import json
import math
import os
import sys
import wave

import numpy as np
import torch
import torchaudio

SR = 16000
WAV_REL = "models/test-audio/pyannote-sample/sample.wav"
# (name, start s, duration s, also store the mean-normalised version)
EXCERPTS = [("head", 0.0, 2.0, False), ("speech", 6.5, 2.0, True)]


def fbank(samples):
    wav = torch.from_numpy(samples.astype(np.float32)).unsqueeze(0)
    return torchaudio.compliance.kaldi.fbank(
        wav, num_mel_bins=80, sample_frequency=SR, dither=0.0
    ).numpy()


def synthetic():
    # 1.0 s: three tones, a linear chirp, seeded noise and a stretch of
    # digital silence (so whole frames hit the log floor).
    n = SR
    t = np.arange(n, dtype=np.float64) / SR
    x = 0.20 * np.sin(2 * math.pi * 220.0 * t)
    x += 0.12 * np.sin(2 * math.pi * 1000.0 * t + 0.3)
    x += 0.06 * np.sin(2 * math.pi * 3500.0 * t + 1.1)
    f0, f1 = 100.0, 7000.0
    x += 0.20 * np.sin(2 * math.pi * (f0 * t + 0.5 * (f1 - f0) * t * t))
    x += 0.03 * np.random.default_rng(20240601).standard_normal(n)
    x += 0.01  # a DC offset, which the per-frame DC removal must cancel
    x[8000:9600] = 0.0
    assert np.max(np.abs(x)) < 0.9
    return x.astype(np.float32)


def read_wav(path, start, seconds):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == SR
        w.setpos(int(round(start * SR)))
        raw = w.readframes(int(round(seconds * SR)))
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def save(name, arr):
    np.ascontiguousarray(arr, dtype="<f4").tofile(name)


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WHOSPOKE_SHARED", "/work/shared")
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    meta = {"torch": torch.__version__, "torchaudio": torchaudio.__version__, "num_mel_bins": 80}

    syn = synthetic()
    syn_fb = fbank(syn)
    save("synthetic_samples.f32", syn)
    save("synthetic_fbank.f32", syn_fb)
    meta["synthetic"] = {"num_samples": int(syn.size), "num_frames": int(syn_fb.shape[0])}

    meta["wav"] = WAV_REL
    for name, start, seconds, meannorm in EXCERPTS:
        x = read_wav(os.path.join(shared, WAV_REL), start, seconds)
        fb = fbank(x)
        save(name + "_fbank.f32", fb)
        if meannorm:
            save(name + "_fbank_meannorm.f32", fb - fb.mean(axis=0, keepdims=True))
        meta[name] = {
            "start_sample": int(round(start * SR)),
            "num_samples": int(x.size),
            "num_frames": int(fb.shape[0]),
        }

    with open("golden.json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
