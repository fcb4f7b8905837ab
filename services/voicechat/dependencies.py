"""Dependency getters (HTTP and WebSocket routes alike), so tests can override them with
`app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.voicechat.service import VoicechatService
from services.voicechat.settings import VoicechatSettings


@lru_cache
def get_settings() -> VoicechatSettings:
    return VoicechatSettings()


def get_voicechat(connection: HTTPConnection) -> VoicechatService:
    return connection.app.state.voicechat


VoicechatDep = Annotated[VoicechatService, Depends(get_voicechat)]
