"""WebRTC service: the voice agent over a peer connection (POST /offer, POST /ice, the "chat" data
channel); the conversation itself runs in the voice-chat orchestrator."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.app import create_app
from services.webrtc.registry import PeerDirectory, PeerRegistry
from services.webrtc.routers import demo, signalling
from services.webrtc.settings import WebrtcSettings


def build_app() -> FastAPI:
    settings = WebrtcSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        directory = PeerDirectory(settings.redis_url, settings.replica_url) if settings.redis_url else None
        app.state.registry = PeerRegistry(settings, directory)
        app.state.catalog = httpx.AsyncClient(base_url=settings.catalog_url, timeout=5.0)
        app.state.http = httpx.AsyncClient(timeout=10.0)  # /ice forwarded to the replica holding the peer
        app.state.registry.start()
        try:
            yield
        finally:
            await app.state.registry.close_all()
            await app.state.catalog.aclose()
            await app.state.http.aclose()

    app = create_app(
        service="webrtc",
        settings=settings,
        routers=[signalling.router, demo.router],
        readiness=lambda: (
            True,
            {
                "peers": len(app.state.registry),
                "max_peers": settings.max_peers,
                "directory": "redis" if settings.redis_url else "none",
                "voicechat": settings.voicechat_ws_url,
            },
        ),
        lifespan=lifespan,
        description="The voice agent over WebRTC: mic audio in, agent voice out, text on the `chat` channel.",
    )
    return app


app = build_app()
