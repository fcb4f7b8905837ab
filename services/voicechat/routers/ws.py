"""WS /ws/voice-chat: the first message configures the session, then a Session runs it."""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from services.common.auth import Identity, IdentityDep
from services.common.protocols.base import ErrorEvent, ProtocolError
from services.common.protocols.voice_chat import Ready, parse_config
from services.voicechat.addresses import OutboundRefused
from services.voicechat.asr_client import AsrError
from services.voicechat.dependencies import VoicechatDep
from services.voicechat.service import VoicechatService
from services.voicechat.urls import UrlNotAllowed

logger = logging.getLogger(__name__)
router = APIRouter(tags=["voice chat"])
CONFIG_TIMEOUT_S = 10


WS_POLICY_VIOLATION, WS_TRY_AGAIN_LATER = 1008, 1013


async def _refuse(ws: WebSocket, error: ErrorEvent, code: int = WS_POLICY_VIOLATION) -> None:
    await ws.send_json(error.wire())
    await ws.close(code=code, reason=error.message[:120])


async def _first_text(ws: WebSocket) -> str:
    message = await asyncio.wait_for(ws.receive(), CONFIG_TIMEOUT_S)
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is None:
        raise ProtocolError('the first message must be a JSON text message {"type": "config", ...}, not binary')
    return message["text"]


@router.websocket("/ws/voice-chat")
async def voice_chat(ws: WebSocket, voicechat: VoicechatDep, identity: IdentityDep) -> None:
    await ws.accept()
    if voicechat.full:  # counted from the handshake on, so sessions still configuring count too
        limit = voicechat.settings.max_sessions
        busy = ErrorEvent(source="server", code="busy", message=f"too many voice-chat sessions (limit {limit})")
        await _refuse(ws, busy, WS_TRY_AGAIN_LATER)
        return
    voicechat.sessions += 1
    try:
        await _serve(ws, voicechat, identity)
    finally:
        voicechat.sessions -= 1
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # already closed by the client
            await ws.close()


async def _serve(ws: WebSocket, voicechat: VoicechatService, identity: Identity) -> None:
    try:
        config = parse_config(await _first_text(ws))
        endpoints = voicechat.endpoints(config)
        await voicechat.check_addresses(endpoints)
    except (ProtocolError, UrlNotAllowed, OutboundRefused) as exc:
        await _refuse(ws, ErrorEvent(source="client", message=str(exc)))
        return
    except TimeoutError:
        await _refuse(ws, ErrorEvent(source="client", message=f"no config message within {CONFIG_TIMEOUT_S} s"))
        return
    except (WebSocketDisconnect, RuntimeError):
        return
    session = voicechat.session(ws, config, endpoints, identity)
    await ws.send_json(Ready().wire())
    try:
        await session.asr.connect()
    except AsrError as exc:  # audio tries again (AsrClient.send); typing works meanwhile
        await ws.send_json(ErrorEvent(source="asr", message=f"{exc}; text_input still works").wire())
    try:
        await session.run()
    finally:
        await session.llm.close()
