#!/usr/bin/env python3
"""Golden tokens for whisper's oracle test (TestOracleNoTimestamps).

Decodes each dev clip under 30 s (asr/jfk, the 42 FSDD digit strings, the
speaker-protocol clips) the way openai-whisper's own decode() does with
DecodingOptions(without_timestamps=True): its tokenizer, SuppressBlank and
SuppressTokens filters and greedy search, one 30 s window. Only the network
is swapped for whospoke's int8 ONNX files (whisper/testdata/reference_onnx.py,
which also supplies openai's mel formula evaluated in float64, the one the Go
front end equals bit for bit). A multilingual model detects the language
first, as decode() does when no language is given.

Setup (Debian bookworm; torch from Debian, since PyPI's torch wheels are
several GB): see scripts/whisper_oracle_requirements.txt.

Usage: whisper_oracle.py DEV_DIR MODELS_DIR OUT.json [--models whisper-tiny.en,whisper-base]
"""
import argparse
import csv
import importlib.metadata as md
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "whisper", "testdata"))

import reference_onnx as ref  # noqa: E402  (patches openai-whisper's inference)
import whisper  # noqa: E402
import whisper.decoding as wdec  # noqa: E402


def dev_clips(dev):
    """Relative paths of the dev clips under 30 s, in a fixed order."""
    clips = ["asr/jfk.wav"]
    with open(os.path.join(dev, "speakers/fsdd_digit_utterances.json")) as f:
        for d in json.load(f):
            clips.append("speakers/" + d["path"].removeprefix("../speakers/"))
    with open(os.path.join(dev, "speakers/speaker_id_protocol.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if float(row["duration"]) < 30:
                clips.append(row["file"])
    return clips


def decode(model, path):
    audio = ref._wav(path)
    mel = ref.log_mel_spectrogram64(whisper.pad_or_trim(audio))
    lang = None if model.is_multilingual else "en"
    r = wdec.decode(model, mel, wdec.DecodingOptions(without_timestamps=True, fp16=False, language=lang))
    return {"tokens": r.tokens, "text": r.text, "language": r.language}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dev")
    ap.add_argument("models_dir")
    ap.add_argument("out")
    ap.add_argument("--models", default="whisper-tiny.en,whisper-base")
    a = ap.parse_args()
    clips = dev_clips(a.dev)
    out = {
        "about": "openai-whisper decode(), greedy, without_timestamps, one 30 s window, over the int8 ONNX files; "
                 "regenerate with scripts/whisper_oracle.py",
        "versions": {p: md.version(p) for p in ("openai-whisper", "onnxruntime", "torch", "numpy", "tiktoken")},
        "models": {},
    }
    for name in a.models.split(","):
        model = ref.OnnxWhisper(os.path.join(a.models_dir, name))
        rows = []
        for c in clips:
            r = decode(model, os.path.join(a.dev, c))
            rows.append({"clip": c, **r})
            print(name, c, r["text"], file=sys.stderr)
        out["models"][name] = rows
    write(out, a.out)


def write(out, path):
    """JSON with one clip a line, so a regenerated file diffs by clip."""
    with open(path, "w") as f:
        f.write('{"about": %s,\n"versions": %s,\n"models": {' % (json.dumps(out["about"]), json.dumps(out["versions"])))
        for i, (name, rows) in enumerate(out["models"].items()):
            f.write("%s\n%s: [\n" % ("," if i else "", json.dumps(name)))
            f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
            f.write("]")
        f.write("}}\n")


if __name__ == "__main__":
    main()
