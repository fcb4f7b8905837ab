"""The peer's conversation runs in the voice-chat orchestrator; this is the WebSocket to it."""

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

import websockets

from services.common.catalog_client import Headers
from services.common.errors import InvalidInput, ServiceBusy
from services.common.protocols.base import ErrorEvent, ProtocolError, parse_event
from services.common.protocols.transcribe import AudioMessage, AudioPayload
from services.common.protocols.voice_chat import SERVER_EVENTS, Config, End, Ready, ServerEvent, TextInput

READY_TIMEOUT_S = 10


class OrchestratorUnavailable(ServiceBusy):
    """The orchestrator cannot be reached, or the connection to it broke."""


class SessionRefused(InvalidInput):
    """The orchestrator refused the session's configuration (the message says why)."""


class OrchestratorLink:
    """`on_behalf`: the caller's headers (services.common.auth.forward_headers), so that the session acts
    for the caller's key."""

    def __init__(self, url: str, on_behalf: Headers) -> None:
        self.url = url
        self.on_behalf = on_behalf
        self._ws: websockets.ClientConnection | None = None

    async def open(self, config: Config) -> None:
        """Connect, configure the session and wait for `ready`."""
        try:
            self._ws = await websockets.connect(
                self.url, open_timeout=5, close_timeout=3, max_size=2**22, additional_headers=self.on_behalf
            )
            await self._ws.send(config.json_text())
            reply = await asyncio.wait_for(self._ws.recv(), READY_TIMEOUT_S)
            event = parse_event(SERVER_EVENTS, reply) if isinstance(reply, str) else None
        except (OSError, websockets.WebSocketException, TimeoutError, ProtocolError) as exc:
            await self.close()
            raise OrchestratorUnavailable(f"the voice-chat orchestrator is unavailable: {exc}") from exc
        if not isinstance(event, Ready):
            await self.close()
            if isinstance(event, ErrorEvent):
                raise SessionRefused(event.message)
            raise SessionRefused(f"the orchestrator answered {getattr(event, 'type', 'an unknown event')!r}")

    async def send_audio(self, pcm_16k: bytes) -> None:
        payload = AudioPayload(audio_base_64=base64.b64encode(pcm_16k).decode())
        await self._send(AudioMessage(audio_event=payload).model_dump_json(exclude_none=True))

    async def send_text(self, text: str) -> None:
        await self._send(TextInput(text=text).json_text())

    async def _send(self, message: str) -> None:
        if self._ws is None:
            raise OrchestratorUnavailable("the orchestrator connection is closed")
        try:
            await self._ws.send(message)
        except websockets.WebSocketException as exc:
            raise OrchestratorUnavailable(f"the orchestrator connection broke: {exc}") from exc

    async def events(self) -> AsyncIterator[ServerEvent | bytes]:
        """Typed events and agent audio (24 kHz int16 bytes) until the orchestrator ends the session;
        event types this side does not know are skipped."""
        if self._ws is None:
            return
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    yield message
                elif (event := parse_event(SERVER_EVENTS, message)) is not None:
                    yield event
        except (websockets.WebSocketException, ProtocolError) as exc:
            raise OrchestratorUnavailable(f"the orchestrator connection broke: {exc}") from exc

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        with contextlib.suppress(websockets.WebSocketException):
            await ws.send(End().json_text())
        await ws.close()
