"""Audio between the peer connection and the orchestrator.

In: the browser's mic arrives as 48 kHz frames (s16, stereo as aiortc decodes Opus); the orchestrator
wants 16 kHz mono int16. Out: the agent speaks 24 kHz int16; the outgoing track sends 20 ms frames at
48 kHz, paced on the clock, and silence while the agent is quiet.
"""

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from services.common.protocols.base import ASR_SAMPLE_RATE, TTS_SAMPLE_RATE

MIC_RATE = ASR_SAMPLE_RATE  # what the voice chat takes in
AGENT_RATE = TTS_SAMPLE_RATE  # what it sends back
TRACK_RATE = 48_000
FRAME_SAMPLES = TRACK_RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2
TIME_BASE = fractions.Fraction(1, TRACK_RATE)


class MicConverter:
    """Decoded mic frames → 16 kHz mono int16 PCM."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=MIC_RATE)

    def convert(self, frame: av.AudioFrame) -> bytes:
        return b"".join(out.to_ndarray().tobytes() for out in self._resampler.resample(frame))


class AgentAudioTrack(MediaStreamTrack):
    """The agent's voice: what the orchestrator sends is played in 20 ms frames, silence in between."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()  # 48 kHz int16 not yet sent
        self._resampler = self._new_resampler()
        self._start: float | None = None
        self._pts = 0
        self.played_out = asyncio.Event()  # set while nothing is waiting to be played
        self.played_out.set()

    @staticmethod
    def _new_resampler() -> av.AudioResampler:
        return av.AudioResampler(format="s16", layout="mono", rate=TRACK_RATE)

    def play(self, pcm_24k: bytes) -> None:
        """Queue agent speech (24 kHz int16 mono)."""
        samples = np.frombuffer(pcm_24k[: len(pcm_24k) // 2 * 2], dtype=np.int16)
        if samples.size == 0:
            return
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AGENT_RATE
        for out in self._resampler.resample(frame):
            self._pending += out.to_ndarray().tobytes()
        self.played_out.clear()

    def stop_speaking(self) -> None:
        """Barge-in: drop what has not been played yet."""
        self._pending.clear()
        self._resampler = self._new_resampler()
        self.played_out.set()

    @property
    def buffered_s(self) -> float:
        return len(self._pending) / 2 / TRACK_RATE

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME_SAMPLES
            wait = self._start + self._pts / TRACK_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        if self._pending:
            chunk = bytes(self._pending[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
            del self._pending[:FRAME_BYTES]
            if not self._pending:
                self.played_out.set()
        else:
            chunk = bytes(FRAME_BYTES)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = TRACK_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        return frame
