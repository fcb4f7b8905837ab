"""Voice-chat service: WS /ws/voice-chat (ASR → LLM → TTS), served on :8124 and on the :8125 bridge."""

from fastapi import FastAPI

from services.common.app import create_app
from services.voicechat.routers import ws
from services.voicechat.settings import VoicechatSettings


def build_app() -> FastAPI:
    settings = VoicechatSettings()
    return create_app(
        service="voicechat",
        settings=settings,
        routers=[ws.router],
        readiness=lambda: (
            True,
            {"llm": settings.llm_base_url, "tts": settings.tts_ws_url, "asr": settings.asr_ws_url},
        ),
        description="The voice agent: a user speaks, the agent answers with voice, interruptibly.",
    )


app = build_app()
