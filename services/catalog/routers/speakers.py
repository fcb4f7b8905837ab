"""GET /api/speakers: the TTS voices a user can pick."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.catalog.dependencies import StoreDep
from services.catalog.schemas import SpeakerList, SpeakerOut
from services.catalog.settings import LANGUAGES
from services.common.errors import InvalidInput

router = APIRouter(prefix="/api", tags=["speakers"])

UserQuery = Annotated[str, Query(min_length=1, max_length=200, description="`default`: shared speakers only.")]


@router.get("/speakers", response_model=SpeakerList, summary="Shared speakers plus the user's own")
async def list_speakers(store: StoreDep, user_id: UserQuery = "default", language: str | None = None) -> SpeakerList:
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    return SpeakerList(speakers=[SpeakerOut.of(row) for row in await store.speakers(user_id, language)])


@router.get("/speakers/{speaker_id}", response_model=SpeakerOut, summary="One speaker")
async def get_speaker(store: StoreDep, speaker_id: str) -> SpeakerOut:
    return SpeakerOut.of(await store.speaker(speaker_id))
