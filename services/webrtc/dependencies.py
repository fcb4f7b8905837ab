"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.webrtc.service import WebrtcService
from services.webrtc.settings import WebrtcSettings


@lru_cache
def get_settings() -> WebrtcSettings:
    return WebrtcSettings()


def get_webrtc(connection: HTTPConnection) -> WebrtcService:
    return connection.app.state.webrtc


WebrtcDep = Annotated[WebrtcService, Depends(get_webrtc)]
