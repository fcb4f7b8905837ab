"""TTS service: WS /ws/tts and POST /v1/audio/speech."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.app import create_app
from services.tts.dependencies import get_settings
from services.tts.routers import openai, ws
from services.tts.service import TtsService


def build_app() -> FastAPI:
    settings = get_settings()
    tts = TtsService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.tts = tts
        tts.start_loading()
        yield
        tts.pool.shutdown()
        await tts.catalog.close()

    return create_app(
        service="tts",
        scope="tts",
        settings=settings,
        routers=[ws.router, openai.router],
        readiness=tts.status,
        lifespan=lifespan,
        description="Text to speech in seven languages, streamed as 24 kHz PCM.",
    )


app = build_app()
