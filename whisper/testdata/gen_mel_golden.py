#!/usr/bin/env python3
"""Generates mel_golden/ for whisper's TestLogMelGolden: a 0.5 s synthetic
signal (int16) and openai-whisper's log-mel of it. Run once with the
reference implementation installed (see reference_onnx.py for the setup):

    python3 gen_mel_golden.py MODEL_DIR

Files (little-endian): input.i16 (8000 samples); single32.f32 = openai's
log_mel_spectrogram(pad_or_trim(x)) (torch float32 STFT), frames 0-59 of
80x3000, mel-major; single64.f32 = the same formula in float64 rounded to
float32 (what whospoke computes); long64.f32 = the long-form spectrogram
(audio + 30 s of zeros, file-wide maximum, as transcribe() computes it) in
float64, frames 10-59.
"""
import os
import sys

import numpy as np
import torch
import whisper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_onnx import log_mel_spectrogram64  # noqa: E402

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mel_golden")
os.makedirs(out, exist_ok=True)
n = 8000
t = np.arange(n) / 16000.0
state = 12345
noise = np.empty(n)
for i in range(n):  # a fixed LCG, so the signal needs no RNG library
    state = (1103515245 * state + 12345) % (1 << 31)
    noise[i] = state / (1 << 31) - 0.5
x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * (200 + 3000 * t) * t) + 0.05 * noise
x[3000:3400] = 0  # a silent stretch
pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2")
pcm.tofile(os.path.join(out, "input.i16"))
audio = pcm.astype(np.float32) / 32768.0
single32 = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio)).numpy()
single64 = log_mel_spectrogram64(whisper.pad_or_trim(audio)).numpy()
long64 = log_mel_spectrogram64(audio, padding=whisper.audio.N_SAMPLES).numpy()
np.ascontiguousarray(single32[:, :60]).astype("<f4").tofile(os.path.join(out, "single32.f32"))
np.ascontiguousarray(single64[:, :60]).astype("<f4").tofile(os.path.join(out, "single64.f32"))
np.ascontiguousarray(long64[:, 10:60]).astype("<f4").tofile(os.path.join(out, "long64.f32"))
print("wrote", out, "max |single32-single64| =", float(np.abs(single32 - single64).max()))
