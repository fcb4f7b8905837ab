"""Everything the server sends on one socket, through one sender task, in two lanes:

- the agent lane (a turn's `thinking`, `agent_text`, audio frames, `agent_end`, in order), bounded,
  with audio released at most `lead_s` ahead of real time — so the client never holds much unplayed
  audio, an interruption takes effect at once, and what counts as "spoken" is close to what was heard;
- the urgent lane (transcripts, `interrupted`, errors, `disconnect`), sent before anything waiting in
  the agent lane.
"""

import asyncio
import contextlib
import time
from collections import deque

from fastapi import WebSocket

from services.common.protocols.base import TTS_SAMPLE_RATE, WireEvent

AGENT_LANE_SIZE = 8


class Outbox:
    def __init__(self, ws: WebSocket, lead_s: float) -> None:
        self._ws = ws
        self._lead_s = lead_s
        self._urgent: deque[WireEvent | None] = deque()
        self._agent: deque[WireEvent | bytes] = deque()
        self._space = asyncio.Semaphore(AGENT_LANE_SIZE)  # a turn waits when its lane is full
        self._wake = asyncio.Event()
        self._audio_start = 0.0  # when the current run of audio started playing on the client
        self._audio_sent_s = 0.0  # seconds of audio sent in this run

    async def agent(self, item: WireEvent | bytes) -> None:
        await self._space.acquire()
        self._agent.append(item)
        self._wake.set()

    def urgent(self, item: WireEvent | None) -> None:
        """Queue an event ahead of the agent lane; None stops the sender once the lanes are empty."""
        self._urgent.append(item)
        self._wake.set()

    def drop_agent_lane(self) -> None:
        """Forget what an interrupted turn had queued; the client starts a fresh audio run."""
        for _ in range(len(self._agent)):
            self._space.release()
        self._agent.clear()
        self._audio_sent_s = 0.0
        self._audio_start = 0.0

    def playing(self, now: float) -> bool:
        """Whether agent output is still queued here or still playing on the client."""
        return bool(self._agent) or now < self._audio_start + self._audio_sent_s

    async def run(self) -> None:
        stopping = False
        while True:
            if self._urgent:
                item = self._urgent.popleft()
                if item is None:
                    stopping = True
                else:
                    await self._ws.send_json(item.wire())
                continue
            if not self._agent:
                if stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._audio_delay()
            if delay > 0 and isinstance(self._agent[0], bytes):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # urgent events need not wait
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            item = self._agent.popleft()
            self._space.release()
            if isinstance(item, bytes):
                self._count_audio(item)
                await self._ws.send_bytes(item)
            else:
                await self._ws.send_json(item.wire())

    def _audio_delay(self) -> float:
        played = time.monotonic() - self._audio_start
        return self._audio_sent_s - played - self._lead_s

    def _count_audio(self, frame: bytes) -> None:
        now = time.monotonic()
        if self._audio_sent_s < now - self._audio_start:  # the client ran dry: a new run starts now
            self._audio_start, self._audio_sent_s = now, 0.0
        self._audio_sent_s += len(frame) / 2 / TTS_SAMPLE_RATE
