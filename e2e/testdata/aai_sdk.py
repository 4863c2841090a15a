"""The official AssemblyAI SDK's v3 StreamingClient against whospoke.

usage: aai_sdk.py HTTP_BASE_URL API_KEY WAV

It takes a temporary token from GET /v3/token (the SDK's own helper always
uses https), streams WAV (16 kHz, 16-bit mono) at real-time pace in 100 ms
chunks with speaker labels and formatted turns, terminates, and prints one
JSON line: every event the SDK parsed, by type, and any error. Every server
message goes through the SDK's pydantic models; an exception anywhere in the
SDK's threads is reported as an error too.
"""

import json
import sys
import threading
import time
import wave

import requests
from assemblyai.streaming.v3 import (
    StreamingClient,
    StreamingClientOptions,
    StreamingEvents,
    StreamingParameters,
    StreamingSessionParameters,
)

base, key, wav = sys.argv[1:4]
errors = []
threading.excepthook = lambda a: errors.append("thread %s: %r" % (a.thread.name, a.exc_value))

r = requests.get(base + "/v3/token", params={"expires_in_seconds": 60}, headers={"Authorization": key}, timeout=10)
r.raise_for_status()
token = r.json()["token"]

events = {"Begin": [], "Turn": [], "Termination": [], "SpeakerRevision": [], "SpeechStarted": []}


def keep(name):
    return lambda client, ev: events[name].append(ev.model_dump(mode="json"))


client = StreamingClient(StreamingClientOptions(token=token, api_host="ws" + base[len("http"):]))
for name in events:
    client.on(getattr(StreamingEvents, name), keep(name))
client.on(StreamingEvents.Error, lambda client, err: errors.append("on_error: %s (code %s)" % (err, getattr(err, "code", None))))

client.connect(StreamingParameters(sample_rate=16000, speaker_labels=True, format_turns=True,
                                   speech_model="universal-streaming-english", include_partial_turns=True))


def chunks():
    with wave.open(wav, "rb") as w:
        start, sent = time.monotonic(), 0
        while True:
            b = w.readframes(1600)
            if len(b) < 1600:  # a chunk under 50 ms would break the contract
                return
            sent += 1
            time.sleep(max(0.0, start + sent * 0.1 - time.monotonic()))
            yield b


client.stream(chunks())
client.set_params(StreamingSessionParameters(end_of_turn_confidence_threshold=0.5, min_turn_silence=300))
client.disconnect(terminate=True)
print(json.dumps({"events": events, "errors": errors}))
