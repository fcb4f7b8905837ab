"""SSAP in streams: each turn's audio is profiled once by the voice service (POST /voice/profile),
in a task of its own, so a transcript never waits for a profile."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

import httpx
import numpy as np
from pydantic import ValidationError

from services.common.audio import to_pcm16, wav_bytes
from services.common.protocols.base import ASR_SAMPLE_RATE, ErrorEvent, WireEvent
from services.common.protocols.transcribe import SsapEvent
from services.common.protocols.voice_profile import ProfileResponse

logger = logging.getLogger(__name__)

RATE = ASR_SAMPLE_RATE


class ProfilerUnavailable(RuntimeError):
    pass


class VoiceProfiles:
    """The voice service's profiler, shared by every stream of the process."""

    def __init__(self, voice_url: str, timeout_s: float) -> None:
        self.url = f"{voice_url.rstrip('/')}/voice/profile"
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def profile(self, audio: np.ndarray, on_behalf: Mapping[str, str]) -> dict[str, dict[str, float]] | None:
        """The properties of `audio`'s voice, asked with the stream's caller's headers (`on_behalf`: its
        key); None when the voice service finds too little voiced audio."""
        wav = wav_bytes(to_pcm16(audio), RATE)
        files = {"file": ("turn.wav", wav, "audio/wav")}
        try:
            response = await self._client.post(self.url, files=files, headers=on_behalf)
        except httpx.HTTPError as exc:
            raise ProfilerUnavailable(f"voice service unreachable ({type(exc).__name__})") from exc
        if response.status_code == 422:
            return None
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ProfilerUnavailable(f"voice service answered {response.status_code}: {str(detail)[:300]}")
        try:
            return ProfileResponse.model_validate_json(response.content).properties or None
        except ValidationError as exc:
            raise ProfilerUnavailable(f"voice service sent a bad profile: {exc.errors()[0]['msg']}") from exc

    async def close(self) -> None:
        await self._client.aclose()


class TurnProfiler:
    """One stream's SSAP: at most one profile per turn, started as soon as the turn has `early_s`
    of voiced audio, or at its end if it has at least `min_s`."""

    def __init__(
        self,
        profiles: VoiceProfiles,
        send: Callable[[WireEvent], Awaitable[None]],
        early_s: float,
        min_s: float,
        on_behalf: Mapping[str, str],
    ) -> None:
        self.profiles = profiles
        self.on_behalf = on_behalf
        self.send = send
        self.early_s = early_s
        self.min_s = min_s
        self._profiled_turn = -1
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False  # an error event was sent and no profile has succeeded since

    def during_turn(self, turn: int, voiced_s: float, audio: Callable[[], np.ndarray]) -> None:
        if turn != self._profiled_turn and voiced_s >= self.early_s:
            self._start(turn, audio())

    def turn_ended(self, turn: int, voiced_s: float, audio: np.ndarray) -> None:
        if turn != self._profiled_turn and voiced_s >= self.min_s:
            self._start(turn, audio)

    def _start(self, turn: int, audio: np.ndarray) -> None:
        self._profiled_turn = turn
        task = asyncio.create_task(self._profile(audio), name="stream-ssap")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _profile(self, audio: np.ndarray) -> None:
        try:
            properties = await self.profiles.profile(audio, self.on_behalf)
        except ProfilerUnavailable as exc:
            logger.warning("ssap: %s", exc)
            if not self._failing:  # once per outage, not once per turn
                self._failing = True
                await self.send(ErrorEvent(message=f"voice profiling unavailable: {exc}"))
            return
        self._failing = False
        if properties:
            await self.send(SsapEvent(properties=properties))

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for profiles still on their way, e.g. the last turn's at end of stream."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
