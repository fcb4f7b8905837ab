"""ASR service: file transcription, diarization, OpenAI-compatible transcription and VAD streaming."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.asr.dependencies import get_settings
from services.asr.routers import diarize, openai, stream, transcribe
from services.asr.service import AsrService
from services.common.app import create_app


def build_app() -> FastAPI:
    settings = get_settings()
    asr = AsrService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.asr = asr
        asr.start_loading()  # /readyz answers 503 until the model is in memory
        asr.stream_scheduler.start()
        yield
        await asr.stream_scheduler.stop()
        await asr.voice_profiles.close()
        asr.pool.shutdown()

    return create_app(
        service="asr",
        scope="asr",
        settings=settings,
        routers=[transcribe.router, diarize.router, openai.router, openai.models_router, stream.router],
        readiness=asr.status,
        lifespan=lifespan,
        description="Speech-to-text with faster-whisper: files, an OpenAI-compatible API and real-time streams.",
    )


app = build_app()
