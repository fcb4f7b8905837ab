"""WS /ws/voice-chat: the first message configures the session, then a Session runs it."""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from services.common.protocols.base import ErrorEvent, ProtocolError
from services.common.protocols.voice_chat import Ready, parse_config
from services.voicechat.asr_client import AsrError
from services.voicechat.dependencies import VoicechatDep
from services.voicechat.urls import UrlNotAllowed

logger = logging.getLogger(__name__)
router = APIRouter(tags=["voice chat"])
CONFIG_TIMEOUT_S = 10


async def _refuse(ws: WebSocket, message: str) -> None:
    await ws.send_json(ErrorEvent(source="client", message=message).wire())
    await ws.close(code=1008)


@router.websocket("/ws/voice-chat")
async def voice_chat(ws: WebSocket, voicechat: VoicechatDep) -> None:
    await ws.accept()
    try:
        config = parse_config(await asyncio.wait_for(ws.receive_text(), CONFIG_TIMEOUT_S))
        endpoints = voicechat.endpoints(config)
    except (ProtocolError, UrlNotAllowed) as exc:
        await _refuse(ws, str(exc))
        return
    except TimeoutError:
        await _refuse(ws, f"no config message within {CONFIG_TIMEOUT_S} s")
        return
    except (WebSocketDisconnect, KeyError, RuntimeError):
        return
    session = voicechat.session(ws, config, endpoints)
    await ws.send_json(Ready().wire())
    try:
        await session.asr.connect()
    except AsrError as exc:  # audio tries again (AsrClient.send); typing works meanwhile
        await ws.send_json(ErrorEvent(source="asr", message=f"{exc}; text_input still works").wire())
    try:
        await session.run()
    finally:
        await session.llm.close()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # already closed by the client
            await ws.close()
