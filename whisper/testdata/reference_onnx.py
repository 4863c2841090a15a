#!/usr/bin/env python3
"""Reference decoding of whospoke's Whisper ONNX files with openai-whisper's own
code (decoding.py, transcribe.py, timing.py), so the Go decoder can be compared
token for token. Only the neural network is swapped: encoder/decoder run in
ONNX Runtime, and find_alignment reads the decoder's alignment_qk output instead
of PyTorch hooks; everything else (mel, logit filters, seek loop, fallbacks,
DTW, punctuation merging) is openai-whisper's.

Setup (Debian bookworm): apt-get install python3-torch python3-numpy;
python3 -m venv --system-site-packages V; V/bin/pip install --no-deps
openai-whisper==20250625; V/bin/pip install tiktoken tqdm numba onnxruntime==1.30.0

Usage: reference_onnx.py MODEL_DIR AUDIO.wav [--notimestamps] [--words] [--language xx] [--greedy] [--mel32]

By default the mel spectrogram is openai's formula evaluated in float64 (see
log_mel_spectrogram64); --mel32 keeps openai's float32 STFT.
Prints JSON: text, segments (with words when --words).
"""
import argparse
import json
import os

import numpy as np
import onnxruntime as ort
import torch

import whisper
import whisper.decoding as wdec
import whisper.timing as wtim
from whisper.model import ModelDimensions


class OnnxWhisper:
    detect_language = wdec.detect_language
    decode = wdec.decode

    def __init__(self, d):
        cfg = json.load(open(os.path.join(d, "config.json")))
        self.dims = ModelDimensions(**cfg["dims"])
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.enc = ort.InferenceSession(os.path.join(d, "encoder.int8.onnx"), so)
        self.dec = ort.InferenceSession(os.path.join(d, "decoder.int8.onnx"), so)
        self.alignment_heads_list = cfg["alignment_heads"]
        self.device = torch.device("cpu")
        self.cross = {}
        self.L, self.D = self.dims.n_text_layer, self.dims.n_text_state

    @property
    def is_multilingual(self):
        return self.dims.n_vocab >= 51865

    @property
    def num_languages(self):
        return self.dims.n_vocab - 51765 - int(self.is_multilingual)

    def encoder(self, mel):
        f, k, v = self.enc.run(None, {"mel": mel.float().numpy()})
        t = torch.from_numpy(f)
        self.cross[t.data_ptr()] = (k, v)
        return t

    def run_decoder(self, tokens, feats, sk, sv, offset):
        k, v = self.cross[feats.data_ptr()]
        b = tokens.shape[0]
        return self.dec.run(None, {
            "tokens": tokens.numpy().astype(np.int64), "self_k_cache": sk, "self_v_cache": sv,
            "cross_k": k, "cross_v": v, "offset": np.full([b], offset, np.int64)})

    def zeros(self, b):
        return np.zeros([self.L, b, 448, self.D], np.float32)

    def logits(self, tokens, feats):
        out = self.run_decoder(tokens, feats, self.zeros(tokens.shape[0]), self.zeros(tokens.shape[0]), 0)
        return torch.from_numpy(out[0])


class OnnxInference(wdec.Inference):
    def __init__(self, model, initial_token_length):
        self.model = model
        self.initial_token_length = initial_token_length
        self.sk = self.sv = None
        self.offset = 0

    def logits(self, tokens, audio_features):
        if self.sk is None:
            self.sk, self.sv = self.model.zeros(tokens.shape[0]), self.model.zeros(tokens.shape[0])
            self.offset = 0
        if tokens.shape[-1] > self.initial_token_length:
            tokens = tokens[:, -1:]
        out = self.model.run_decoder(tokens, audio_features, self.sk, self.sv, self.offset)
        self.sk, self.sv = out[1], out[2]
        self.offset += tokens.shape[-1]
        return torch.from_numpy(out[0])

    def rearrange_kv_cache(self, source_indices):
        if source_indices != list(range(len(source_indices))):
            raise NotImplementedError("beam search")

    def cleanup_caching(self):
        self.sk = self.sv = None


def find_alignment(model, tokenizer, text_tokens, mel, num_frames, *, medfilt_width=7, qk_scale=1.0):
    # openai's find_alignment with the QK hooks replaced by alignment_qk.
    if len(text_tokens) == 0:
        return []
    tokens = torch.tensor([*tokenizer.sot_sequence, tokenizer.no_timestamps, *text_tokens, tokenizer.eot])
    feats = model.encoder(mel.unsqueeze(0))
    out = model.run_decoder(tokens.unsqueeze(0), feats, model.zeros(1), model.zeros(1), 0)
    logits = torch.from_numpy(out[0])[0]
    sampled_logits = logits[len(tokenizer.sot_sequence):, : tokenizer.eot]
    token_probs = sampled_logits.softmax(dim=-1)
    text_token_probs = token_probs[np.arange(len(text_tokens)), text_tokens].tolist()
    weights = torch.from_numpy(out[3])[0]  # [8, T, 1500]
    weights = weights[:, :, : num_frames // 2]
    weights = (weights * qk_scale).softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = (weights - mean) / std
    weights = wtim.median_filter(weights, medfilt_width)
    matrix = weights.mean(axis=0)
    matrix = matrix[len(tokenizer.sot_sequence): -1]
    text_indices, time_indices = wtim.dtw(-matrix)
    words, word_tokens = tokenizer.split_to_word_tokens(text_tokens + [tokenizer.eot])
    if len(word_tokens) <= 1:
        return []
    word_boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / wtim.TOKENS_PER_SECOND
    start_times = jump_times[word_boundaries[:-1]]
    end_times = jump_times[word_boundaries[1:]]
    probs = [np.mean(text_token_probs[i:j]) for i, j in zip(word_boundaries[:-1], word_boundaries[1:])]
    return [wtim.WordTiming(w, t, s, e, p) for w, t, s, e, p in zip(words, word_tokens, start_times, end_times, probs)]


def log_mel_spectrogram64(audio, n_mels=80, padding=0, device=None):
    """openai's log_mel_spectrogram computed in float64 (the STFT of
    torch's float32 pocketfft is off by up to 1.6e-5 after normalisation,
    enough to flip a knife-edge token); the result is rounded to float32."""
    import whisper.audio as wa
    if not torch.is_tensor(audio):
        audio = torch.from_numpy(np.asarray(audio))
    audio = audio.to(torch.float64)
    if padding > 0:
        audio = torch.nn.functional.pad(audio, (0, padding))
    window = torch.hann_window(wa.N_FFT, dtype=torch.float64)
    stft = torch.stft(audio, wa.N_FFT, wa.HOP_LENGTH, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    filters = wa.mel_filters(audio.device, n_mels).to(torch.float64)
    mel_spec = filters @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return log_spec.to(torch.float32)


wdec.PyTorchInference = OnnxInference
wtim.find_alignment = find_alignment


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("audio")
    ap.add_argument("--notimestamps", action="store_true")
    ap.add_argument("--words", action="store_true")
    ap.add_argument("--language", default=None)
    ap.add_argument("--greedy", action="store_true", help="temperature 0 only (no sampled fallback, so runs are comparable)")
    ap.add_argument("--mel32", action="store_true", help="openai's float32 mel instead of the float64 one")
    a = ap.parse_args()
    if not a.mel32:
        import sys
        whisper.log_mel_spectrogram = log_mel_spectrogram64
        sys.modules["whisper.transcribe"].log_mel_spectrogram = log_mel_spectrogram64
    m = OnnxWhisper(a.model_dir)
    audio = whisper.load_audio(a.audio) if not a.audio.endswith(".wav") else _wav(a.audio)
    if a.notimestamps:
        # MODELS.md's reference mode: one 30 s window, greedy, no timestamps.
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio))
        r = wdec.decode(m, mel, wdec.DecodingOptions(without_timestamps=True, fp16=False, language=a.language or ("en" if not m.is_multilingual else None)))
        print(json.dumps({"text": r.text, "tokens": r.tokens, "language": r.language}))
        return
    kw = {"temperature": 0.0} if a.greedy else {}
    r = whisper.transcribe(m, audio, fp16=False, word_timestamps=a.words, language=a.language, **kw)
    segs = [{k: s[k] for k in ("start", "end", "text", "tokens", "temperature", "avg_logprob", "no_speech_prob", "words") if k in s} for s in r["segments"]]
    print(json.dumps({"text": r["text"], "language": r["language"], "segments": segs}, default=float))


def _wav(path):
    # 16-bit PCM mono 16 kHz WAV without ffmpeg (the dev set's format).
    import wave
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return x.astype(np.float32) / 32768.0


if __name__ == "__main__":
    main()
