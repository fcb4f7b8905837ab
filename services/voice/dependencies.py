"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings


@lru_cache
def get_settings() -> VoiceSettings:
    return VoiceSettings()


def get_voice(request: Request) -> VoiceService:
    return request.app.state.voice


VoiceDep = Annotated[VoiceService, Depends(get_voice)]
