"""ASR service: file transcription (and, in later modules, streaming and diarization)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.asr.dependencies import get_settings
from services.asr.routers import openai, transcribe
from services.asr.service import AsrService
from services.common.app import create_app


def build_app() -> FastAPI:
    settings = get_settings()
    asr = AsrService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.asr = asr
        asr.start_loading()  # /readyz answers 503 until the model is in memory
        yield
        asr.pool.shutdown()

    return create_app(
        service="asr",
        settings=settings,
        routers=[transcribe.router, openai.router],
        readiness=asr.models.status,
        lifespan=lifespan,
        description="Speech-to-text with faster-whisper: file transcription and an OpenAI-compatible API.",
    )


app = build_app()
