"""Voice service: speaker verification with AS-Norm and AASIST anti-spoofing."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.app import create_app
from services.voice.dependencies import get_settings
from services.voice.routers import antispoof, profile, speakers
from services.voice.service import VoiceService


def build_app() -> FastAPI:
    settings = get_settings()
    voice = VoiceService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.voice = voice
        await voice.start()  # schema migrations, then models load in the background (/readyz says when)
        yield
        await voice.stop()

    return create_app(
        service="voice",
        scope="voice",
        settings=settings,
        routers=[speakers.router, antispoof.router, profile.router],
        readiness=voice.status,
        lifespan=lifespan,
        description="Speaker verification (embeddings + AS-Norm), anti-spoofing (AASIST) and voice profiling (SSAP).",
    )


app = build_app()
