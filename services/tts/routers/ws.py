"""WS /ws/tts: JSON requests in, binary 24 kHz int16 PCM frames and an `end` event out; several
requests in turn on one connection. A bad request gets an `error` event and the connection stays."""

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from services.common.auth import Identity, IdentityDep
from services.common.catalog_client import UnknownReference
from services.common.errors import ApiError
from services.common.protocols.base import ErrorEvent, ProtocolError, parse_json_object
from services.common.protocols.tts import EndEvent, TtsRequest
from services.tts.dependencies import TtsDep
from services.tts.service import SynthesisError, TtsService

logger = logging.getLogger(__name__)
router = APIRouter(tags=["synthesis"])


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())


async def serve_one(ws: WebSocket, tts: TtsService, raw: str, identity: Identity) -> None:
    try:
        request = TtsRequest.model_validate(parse_json_object(raw))
        continues = bool(request.continues)
        pieces = tts.check_text(request.target_text, continues)
        resolved = await tts.resolve(request.speaker_id, request.collection_id, request.language, identity)
        frames = samples = 0
        async for frame in tts.stream(pieces, resolved.voice, continues):
            await ws.send_bytes(frame)
            frames += 1
            samples += len(frame) // 2
        await ws.send_json(EndEvent.of(resolved.speaker_id, frames, samples).wire())
    except ProtocolError as exc:
        await ws.send_json(ErrorEvent(message=f'{exc}: send JSON objects like {{"target_text": "..."}}').wire())
    except ValidationError as exc:
        await ws.send_json(ErrorEvent(message=describe(exc)).wire())
    except (SynthesisError, UnknownReference) as exc:
        await ws.send_json(ErrorEvent(message=str(exc)).wire())
    except ApiError as exc:  # engine not loaded, pool full, catalog unreachable (503)
        await ws.send_json(ErrorEvent(message=exc.message).wire())


@router.websocket("/ws/tts")
async def tts_socket(ws: WebSocket, tts: TtsDep, identity: IdentityDep) -> None:
    await ws.accept()
    try:
        while True:
            message = await asyncio.wait_for(ws.receive(), tts.settings.tts_idle_timeout_s)
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is None:
                await ws.send_json(ErrorEvent(message="send JSON text messages; binary frames are not accepted").wire())
                continue
            await serve_one(ws, tts, message["text"], identity)
    except TimeoutError:
        await ws.close(code=1001, reason="idle timeout")
    except WebSocketDisconnect:
        return
