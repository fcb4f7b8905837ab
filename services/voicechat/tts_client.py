"""The TTS service's /ws/tts, one connection per session, reopened after an interruption."""

import asyncio
from collections.abc import AsyncIterator, Mapping

import websockets

from services.common.protocols.base import ErrorEvent, event_or_error
from services.common.protocols.tts import SERVER_EVENTS, EndEvent, TtsRequest
from services.voicechat.addresses import OutboundRefused
from services.voicechat.outbound import open_websocket
from services.voicechat.urls import Endpoint

# A dropped connection's close handshake runs in the background and gives up after this long: the TTS may
# still be writing the old request's frames, which nobody reads any more.
CLOSE_TIMEOUT_S = 2.0


class TtsError(RuntimeError):
    pass


class TtsClient:
    """`on_behalf`: headers of the session's caller (its key) for the TTS handshake."""

    def __init__(self, endpoint: Endpoint, on_behalf: Mapping[str, str]) -> None:
        self.endpoint = endpoint
        self.on_behalf = on_behalf
        self._ws: websockets.ClientConnection | None = None
        self.last_speaker_id: str | None = None  # the speaker the TTS service resolved for the last request
        self._closing: set[asyncio.Task] = set()

    async def _connection(self) -> websockets.ClientConnection:
        if self._ws is None:
            try:
                self._ws = await open_websocket(
                    self.endpoint,
                    open_timeout=5,
                    close_timeout=CLOSE_TIMEOUT_S,
                    max_size=2**22,
                    additional_headers=self.on_behalf,
                )
            except OutboundRefused as exc:
                raise TtsError(f"tts_ws_url refused: {exc}") from exc
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                raise TtsError(f"TTS is unreachable at {self.endpoint.url}: {exc}") from exc
        return self._ws

    async def speak(
        self, text: str, speaker_id: str | None, collection_id: str | None, language: str, continues: bool = False
    ) -> AsyncIterator[bytes]:
        """24 kHz int16 PCM frames of `text`; `continues`: it goes on from the text before (not cut again)."""
        ws = await self._connection()
        request = TtsRequest(
            target_text=text,
            speaker_id=speaker_id or None,
            collection_id=collection_id or None,
            language=language,
            continues=continues or None,
        )
        try:
            await ws.send(request.model_dump_json(exclude_none=True))
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    yield message
                    continue
                event = event_or_error(SERVER_EVENTS, message, "TTS")
                if isinstance(event, EndEvent):
                    self.last_speaker_id = event.speaker_id
                    return
                if isinstance(event, ErrorEvent):
                    raise TtsError(event.message)
        except websockets.WebSocketException as exc:
            await self.reset()
            raise TtsError(f"TTS connection lost: {exc}") from exc

    async def reset(self) -> None:
        """Drop the connection (after an interruption the old request's frames must not arrive) without
        waiting for its close handshake: the TTS may be blocked writing frames of the old request, and
        waiting would hold up a barge-in or the end of the session."""
        ws, self._ws = self._ws, None
        if ws is not None:
            task = asyncio.create_task(ws.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Drop the connection and wait (bounded) for every close handshake still running."""
        await self.reset()
        if self._closing:
            await asyncio.wait(self._closing, timeout=CLOSE_TIMEOUT_S + 1)
