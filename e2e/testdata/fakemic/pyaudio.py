"""A stand-in for PyAudio's microphone in tests: it plays the WAV file named
by $WHOSPOKE_FAKE_MIC (16-bit mono at the rate the caller opens) at real-time
pace, then $WHOSPOKE_FAKE_MIC_TAIL seconds of silence (default 3), then
interrupts its own process as Ctrl+C would."""

import os
import signal
import threading
import time
import wave

paInt16 = 8


class Stream:
    def __init__(self, rate, channels):
        with wave.open(os.environ["WHOSPOKE_FAKE_MIC"], "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != channels or w.getframerate() != rate:
                raise ValueError("fake microphone: the WAV must be 16-bit, %d channel(s), %d Hz" % (channels, rate))
            self._data = w.readframes(w.getnframes())
        tail = float(os.environ.get("WHOSPOKE_FAKE_MIC_TAIL", "3"))
        self._data += b"\0" * (2 * channels * int(tail * rate))
        self._rate, self._width = rate, 2 * channels
        self._pos, self._start = 0, None
        self._active, self._interrupted = True, False
        self._lock = threading.Lock()

    def read(self, frames, exception_on_overflow=True):
        with self._lock:
            if self._start is None:
                self._start = time.monotonic()
            n = frames * self._width
            chunk = self._data[self._pos:self._pos + n]
            self._pos += n
            done = self._pos >= len(self._data)
            # A microphone returns a buffer when it has filled: real time.
            due = self._start + self._pos / self._width / self._rate
            interrupt = done and not self._interrupted
            self._interrupted = self._interrupted or done
        time.sleep(max(0.0, due - time.monotonic()))
        if interrupt:  # once: the script stops reading after Ctrl+C
            os.kill(os.getpid(), signal.SIGINT)
        return chunk + b"\0" * (n - len(chunk))

    def is_active(self):
        return self._active

    def stop_stream(self):
        self._active = False

    def close(self):
        self._active = False


class PyAudio:
    def open(self, rate, channels=1, format=paInt16, input=True, frames_per_buffer=1024, **kwargs):
        return Stream(rate, channels)

    def terminate(self):
        pass
