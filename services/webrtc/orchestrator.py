"""The peer's conversation runs in the voice-chat orchestrator; this is the WebSocket to it."""

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator

import websockets

from services.common.errors import InvalidInput, ServiceBusy

READY_TIMEOUT_S = 10


class OrchestratorUnavailable(ServiceBusy):
    """The orchestrator cannot be reached, or the connection to it broke."""


class SessionRefused(InvalidInput):
    """The orchestrator refused the session's configuration (the message says why)."""


class OrchestratorLink:
    def __init__(self, url: str) -> None:
        self.url = url
        self._ws: websockets.ClientConnection | None = None

    async def open(self, config: dict[str, object]) -> None:
        """Connect, configure the session and wait for `ready`."""
        try:
            self._ws = await websockets.connect(self.url, open_timeout=5, close_timeout=3, max_size=2**22)
            await self._ws.send(json.dumps({"type": "config", **config}))
            event = json.loads(await asyncio.wait_for(self._ws.recv(), READY_TIMEOUT_S))
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            await self.close()
            raise OrchestratorUnavailable(f"the voice-chat orchestrator is unavailable: {exc}") from exc
        if event.get("type") != "ready":
            await self.close()
            raise SessionRefused(str(event.get("message", f"the orchestrator answered {event.get('type')!r}")))

    async def send_audio(self, pcm_16k: bytes) -> None:
        message = {"audio_event": {"audio_base_64": base64.b64encode(pcm_16k).decode()}}
        await self._send(message)

    async def send_text(self, text: str) -> None:
        await self._send({"type": "text_input", "text": text})

    async def _send(self, message: dict[str, object]) -> None:
        if self._ws is None:
            raise OrchestratorUnavailable("the orchestrator connection is closed")
        try:
            await self._ws.send(json.dumps(message))
        except websockets.WebSocketException as exc:
            raise OrchestratorUnavailable(f"the orchestrator connection broke: {exc}") from exc

    async def events(self) -> AsyncIterator[dict[str, object] | bytes]:
        """Events (dicts) and agent audio (24 kHz int16 bytes) until the orchestrator ends the session."""
        if self._ws is None:
            return
        try:
            async for message in self._ws:
                yield message if isinstance(message, bytes) else json.loads(message)
        except websockets.WebSocketException as exc:
            raise OrchestratorUnavailable(f"the orchestrator connection broke: {exc}") from exc

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        with contextlib.suppress(websockets.WebSocketException):
            await ws.send(json.dumps({"type": "end"}))
        await ws.close()
