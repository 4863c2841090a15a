"""A stand-in for the sounddevice package in tests: InputStream plays the
16 kHz mono PCM16 WAV named by $WHOSPOKE_FAKE_MIC through the callback, in
blocksize frames at real-time pace, then $WHOSPOKE_FAKE_MIC_TAIL seconds of
silence (default 6: the last turn needs silence to end), and then sends
SIGINT to the process, as a person pressing Ctrl+C would."""

import os
import signal
import threading
import time
import wave

import numpy as np


class InputStream:
    def __init__(self, samplerate, channels, dtype, blocksize, callback, **_):
        if channels != 1 or dtype != "float32":
            raise ValueError("fake microphone: mono float32 only")
        with wave.open(os.environ["WHOSPOKE_FAKE_MIC"], "rb") as w:
            if w.getframerate() != samplerate or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError("fake microphone: the WAV must be mono PCM16 at the stream's rate")
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        tail = float(os.environ.get("WHOSPOKE_FAKE_MIC_TAIL", "6"))
        self._audio = np.concatenate([pcm.astype(np.float32) / 32768, np.zeros(int(tail * samplerate), np.float32)])
        self._rate, self._block, self._callback = samplerate, blocksize, callback
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)

    def _play(self):
        start = time.monotonic()
        for k, off in enumerate(range(0, len(self._audio), self._block)):
            block = self._audio[off:off + self._block]
            if len(block) < self._block:
                block = np.pad(block, (0, self._block - len(block)))
            # Block k exists only once its last sample has been spoken.
            due = start + (k + 1) * self._block / self._rate
            if self._stopped.wait(max(0.0, due - time.monotonic())):
                return
            self._callback(block.reshape(-1, 1), self._block, None, None)
        os.kill(os.getpid(), signal.SIGINT)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopped.set()

    def close(self):
        self._stopped.set()
