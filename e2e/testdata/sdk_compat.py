"""Runs the official pyannoteAI Python client, unchanged but for its base URL,
against a whospoke server: upload, diarize, retrieve, voiceprint, identify.

usage: sdk_compat.py BASE_URL API_KEY SAMPLE_WAV ENROLL_WAV TEST_WAV
Prints one JSON line with what it saw; exits non-zero on any failure.
"""
import json
import sys
import warnings

from pyannoteai.sdk import Client

base, key, sample, enroll, test = sys.argv[1:6]


class LocalClient(Client):
    API_URL = base + "/v1"


warnings.simplefilter("ignore")
client = LocalClient(token=key)  # the constructor calls GET /v1/test

media = client.upload(sample)  # media://<md5>, via POST /v1/media/input + PUT
assert media.startswith("media://"), media
job = client.diarize(media, confidence=True, exclusive=True, turn_level_confidence=True)
out = client.retrieve(job, every_seconds=1)
assert out["status"] == "succeeded", out
diar = out["output"]["diarization"]
speakers = sorted({t["speaker"] for t in diar})
assert len(speakers) >= 2, speakers
assert out["output"]["exclusiveDiarization"], "no exclusiveDiarization"
assert out["output"]["confidence"]["resolution"] == 0.02

vp_job = client.voiceprint(client.upload(enroll, media_url="media://enroll/alice.wav"))
vp = client.retrieve(vp_job, every_seconds=1)["output"]["voiceprint"]
assert isinstance(vp, str) and 0 < len(vp) <= 20000

id_job = client.identify(client.upload(test), voiceprints={"Alice": vp}, matching_threshold=50)
ident = client.retrieve(id_job, every_seconds=1)["output"]
matches = [v["match"] for v in ident["voiceprints"]]
assert "Alice" in matches, ident["voiceprints"]
assert all(t["speaker"] == "Alice" for t in ident["identification"] if t["match"]), ident["identification"]

print(json.dumps({"speakers": speakers, "turns": len(diar), "voiceprint_chars": len(vp),
                  "identify": ident["voiceprints"]}))
