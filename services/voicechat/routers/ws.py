"""WS /ws/voice-chat: the first message configures the session, then a Session runs it."""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from services.voicechat.asr_client import AsrClient, AsrError
from services.voicechat.llm import Llm
from services.voicechat.protocol import Config, ProtocolError, error, event, parse_config
from services.voicechat.session import Session
from services.voicechat.settings import VoicechatSettings
from services.voicechat.tts_client import TtsClient
from services.voicechat.urls import UrlNotAllowed, check_url

logger = logging.getLogger(__name__)
router = APIRouter(tags=["voice chat"])
CONFIG_TIMEOUT_S = 10


def endpoints(config: Config, settings: VoicechatSettings) -> tuple[str, str, str]:
    """(LLM base URL, TTS ws URL, ASR ws URL): the configured defaults, or the client's if allowed."""
    allowed = settings.allowed_urls

    def pick(value: str | None, default: str, kind: str, schemes: tuple[str, ...]) -> str:
        if value is None or value == default:
            return default
        return check_url(value, kind, allowed, schemes)

    return (
        pick(config.llm_base_url, settings.llm_base_url, "llm_base_url", ("http", "https")),
        pick(config.tts_ws_url, settings.tts_ws_url, "tts_ws_url", ("ws", "wss")),
        pick(config.asr_ws_url, settings.asr_ws_url, "asr_ws_url", ("ws", "wss")),
    )


@router.websocket("/ws/voice-chat")
async def voice_chat(ws: WebSocket) -> None:
    settings: VoicechatSettings = ws.app.state.settings
    await ws.accept()
    try:
        config = parse_config(await asyncio.wait_for(ws.receive_text(), CONFIG_TIMEOUT_S))
        llm_url, tts_url, asr_url = endpoints(config, settings)
    except (ProtocolError, UrlNotAllowed) as exc:
        await ws.send_json(error("client", str(exc)))
        await ws.close(code=1008)
        return
    except TimeoutError:
        await ws.send_json(error("client", f"no config message within {CONFIG_TIMEOUT_S} s"))
        await ws.close(code=1008)
        return
    except (WebSocketDisconnect, KeyError, RuntimeError):
        return
    llm = Llm(
        llm_url,
        config.llm_model or settings.llm_model,
        settings.llm_api_key.get_secret_value(),
        settings.llm_timeout_s,
        settings.llm_max_tokens,
    )
    asr = AsrClient(asr_url, settings.agent_silence_ms, config.language, config.ssap)
    await ws.send_json(event("ready"))
    try:
        await asr.connect()
    except AsrError as exc:  # audio tries again (AsrClient.send); typing works meanwhile
        await ws.send_json(error("asr", f"{exc}; text_input still works"))
    session = Session(ws, settings, config, llm, TtsClient(tts_url), asr)
    try:
        await session.run()
    finally:
        await llm.close()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # already closed by the client
            await ws.close()
