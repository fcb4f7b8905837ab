"""Voice-chat service: WS /ws/voice-chat (ASR → LLM → TTS), served on :8124 and on the :8125 bridge."""

from fastapi import FastAPI

from services.common.app import create_app
from services.voicechat.dependencies import get_settings
from services.voicechat.routers import ws
from services.voicechat.service import VoicechatService


def build_app() -> FastAPI:
    settings = get_settings()
    voicechat = VoicechatService(settings)
    app = create_app(
        service="voicechat",
        scope="chat",
        settings=settings,
        routers=[ws.router],
        readiness=voicechat.status,
        description="The voice agent: a user speaks, the agent answers with voice, interruptibly.",
    )
    app.state.voicechat = voicechat
    return app


app = build_app()
