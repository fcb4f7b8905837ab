"""WebRTC service: the voice agent over a peer connection (POST /offer, POST /ice, the "chat" data
channel); the conversation itself runs in the voice-chat orchestrator."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.app import create_app
from services.webrtc.dependencies import get_settings
from services.webrtc.routers import console, demo, signalling
from services.webrtc.service import WebrtcService


def build_app() -> FastAPI:
    settings = get_settings()
    webrtc = WebrtcService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.webrtc = webrtc
        webrtc.start()
        try:
            yield
        finally:
            await webrtc.close()

    return create_app(
        service="webrtc",
        scope="chat",
        settings=settings,
        routers=[signalling.router, demo.router, console.router],
        readiness=webrtc.status,
        lifespan=lifespan,
        description="The voice agent over WebRTC: mic audio in, agent voice out, text on the `chat` channel.",
    )


app = build_app()
