"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.asr.service import AsrService
from services.asr.settings import AsrSettings


@lru_cache
def get_settings() -> AsrSettings:
    return AsrSettings()


def get_asr(connection: HTTPConnection) -> AsrService:
    """For HTTP and WebSocket routes alike."""
    return connection.app.state.asr


AsrDep = Annotated[AsrService, Depends(get_asr)]
