"""The official openai SDK's realtime client against whospoke: a
transcription session end to end. Every server event is validated strictly
against the SDK's own pydantic types. Prints one JSON summary line.

usage: openai_realtime.py WAV   (16 kHz mono PCM16; env OPENAI_API_KEY,
OPENAI_BASE_URL=http://HOST:PORT/v1)"""

import asyncio
import base64
import json
import sys
import wave

import numpy as np
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

STRICT = TypeAdapter(RealtimeServerEvent)


async def next_event(conn, seen):
    raw = await conn.recv_bytes()
    ev = STRICT.validate_json(raw)  # raises on any field the SDK would not accept
    assert ev.event_id not in seen, f"repeated event_id {ev.event_id}"
    seen.add(ev.event_id)
    return ev


async def expect(conn, seen, typ):
    ev = await next_event(conn, seen)
    assert ev.type == typ, f"got {ev.type}, want {typ}: {ev}"
    return ev


def pcm24k(path):
    with wave.open(path, "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    n = len(x) * 24000 // 16000
    y = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes(), len(x) / 16000


async def main(path):
    seen = set()
    client = AsyncOpenAI()
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        created = await expect(conn, seen, "session.created")
        assert created.session.type == "transcription"
        await conn.session.update(session={
            "type": "transcription",
            "audio": {"input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": None,
            }},
        })
        updated = await expect(conn, seen, "session.updated")
        assert updated.session.audio.input.turn_detection is None, updated

        # A bad event is an error in OpenAI's shape; the session goes on.
        await conn.send_raw(json.dumps({"type": "input_audio_buffer.append", "audio": "!!", "event_id": "bad1"}))
        err = await expect(conn, seen, "error")
        assert err.error.param == "audio" and err.error.event_id == "bad1", err

        pcm, seconds = pcm24k(path)
        for off in range(0, len(pcm), 4800):
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[off:off + 4800]).decode())
        await conn.input_audio_buffer.commit()

        deltas, segments, item = [], [], None
        while True:
            ev = await next_event(conn, seen)
            if ev.type == "input_audio_buffer.committed":
                item = ev.item_id
            elif ev.type == "conversation.item.input_audio_transcription.delta":
                deltas.append(ev.delta)
            elif ev.type == "conversation.item.input_audio_transcription.segment":
                assert ev.item_id == item, ev
                segments.append({"speaker": ev.speaker, "start": ev.start, "end": ev.end, "text": ev.text})
            elif ev.type == "conversation.item.input_audio_transcription.completed":
                assert ev.item_id == item and ev.usage.type == "duration", ev
                completed = ev
                break
            else:
                raise AssertionError(f"unexpected {ev}")
        assert item is not None, "no input_audio_buffer.committed"

        await conn.input_audio_buffer.clear()
        await expect(conn, seen, "input_audio_buffer.cleared")
    print(json.dumps({"transcript": completed.transcript, "deltas": deltas, "segments": segments,
                      "usage_seconds": completed.usage.seconds, "audio_seconds": seconds}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
