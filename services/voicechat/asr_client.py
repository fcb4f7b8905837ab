"""The ASR stream: audio_event messages go to /ws/transcribe/vad (or the client's asr_ws_url) as
they are; transcript events come back."""

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit

import websockets


class AsrError(RuntimeError):
    pass


class AsrClient:
    def __init__(self, url: str, silence_ms: int, language: str) -> None:
        query = urlencode({"silence_ms": silence_ms, "language": language})
        self.url = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
        self._ws: websockets.ClientConnection | None = None

    async def connect(self) -> None:
        try:
            self._ws = await websockets.connect(self.url, open_timeout=5)
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            raise AsrError(f"ASR is unreachable: {exc}") from exc

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def send(self, raw_audio_event: str) -> None:
        if self._ws is None:
            raise AsrError("ASR is not connected")
        try:
            await self._ws.send(raw_audio_event)
        except websockets.WebSocketException as exc:
            self._ws = None
            raise AsrError(f"ASR connection lost: {exc}") from exc

    async def events(self) -> AsyncIterator[dict]:
        if self._ws is None:
            return
        try:
            async for message in self._ws:
                if isinstance(message, str):
                    yield json.loads(message)
        except websockets.WebSocketException as exc:
            raise AsrError(f"ASR connection lost: {exc}") from exc
        finally:
            self._ws = None

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
