"""The ASR stream: audio_event messages go to /ws/transcribe/vad (or the client's asr_ws_url) as
they are; transcript events come back."""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode, urlsplit

import websockets

from services.common.protocols.base import ErrorEvent, event_or_error
from services.common.protocols.transcribe import SERVER_EVENTS, SpeechStartedEvent, SsapEvent, TranscriptEvent
from services.voicechat.addresses import OutboundRefused
from services.voicechat.outbound import open_websocket, with_url
from services.voicechat.urls import Endpoint

AsrEvent = TranscriptEvent | SsapEvent | SpeechStartedEvent | ErrorEvent

RECONNECT_BACKOFF_S = 2.0
CLOSE_TIMEOUT_S = 2.0  # an ASR that does not answer the close handshake is disconnected after this long


class AsrError(RuntimeError):
    pass


class AsrClient:
    """One ASR stream per session. The ASR closes a stream that has been idle (a user who only types);
    the next audio then opens a new one, so the session never goes deaf. `on_behalf`: headers of the
    session's caller (its key) for the handshake."""

    def __init__(
        self,
        endpoint: Endpoint,
        silence_ms: int,
        language: str,
        flags: tuple[str, ...],
        on_behalf: Mapping[str, str],
    ) -> None:
        """`flags`: the stream's query flags set to true (ssap, turn_model), sent only when asked: an
        external ASR may not know them."""
        self.on_behalf = on_behalf
        parameters: dict[str, object] = {"silence_ms": silence_ms, "language": language}
        parameters.update(dict.fromkeys(flags, "true"))
        query = urlencode(parameters)
        self.endpoint = with_url(endpoint, f"{endpoint.url}{'&' if urlsplit(endpoint.url).query else '?'}{query}")
        self._ws: websockets.ClientConnection | None = None
        self._open = asyncio.Event()  # set while a stream is open
        self._retry_at = 0.0  # after a failed connect, audio is dropped until then

    async def connect(self) -> None:
        try:
            self._ws = await open_websocket(
                self.endpoint, open_timeout=5, close_timeout=CLOSE_TIMEOUT_S, additional_headers=self.on_behalf
            )
        except OutboundRefused as exc:
            self._retry_at = time.monotonic() + RECONNECT_BACKOFF_S
            raise AsrError(f"asr_ws_url refused: {exc}") from exc
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            self._retry_at = time.monotonic() + RECONNECT_BACKOFF_S
            raise AsrError(f"ASR is unreachable: {exc}") from exc
        self._open.set()

    async def send(self, raw_audio_event: str) -> None:
        if self._ws is None:
            if time.monotonic() < self._retry_at:
                raise AsrError("ASR is unreachable; retrying shortly")
            await self.connect()
        try:
            await self._ws.send(raw_audio_event)
        except websockets.WebSocketException as exc:
            self._lost()
            raise AsrError(f"ASR connection lost: {exc}") from exc

    async def events(self) -> AsyncIterator[AsrEvent]:
        """The ASR's events for the whole session, across reconnections; a stream that breaks off
        (rather than closing normally) or a malformed event is reported as an error event, and
        event types this side does not know (an external ASR's) are skipped."""
        while True:
            await self._open.wait()
            ws = self._ws
            try:
                async for message in ws:
                    if (
                        isinstance(message, str)
                        and (event := event_or_error(SERVER_EVENTS, message, "ASR")) is not None
                    ):
                        yield event
            except websockets.WebSocketException as exc:
                yield ErrorEvent(message=f"ASR connection lost ({exc}); reconnecting on the next audio")
            finally:
                if self._ws is ws:
                    self._lost()

    def _lost(self) -> None:
        self._ws = None
        self._open.clear()

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        self._open.clear()
        if ws is not None:
            await ws.close()
