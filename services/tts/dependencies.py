"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.tts.service import TtsService
from services.tts.settings import TtsSettings


@lru_cache
def get_settings() -> TtsSettings:
    return TtsSettings()


def get_tts(connection: HTTPConnection) -> TtsService:
    """For HTTP and WebSocket routes alike."""
    return connection.app.state.tts


TtsDep = Annotated[TtsService, Depends(get_tts)]
