"""/api/speakers: the TTS voices a user can pick, and voice-cloning speakers a user adds."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from services.catalog.dependencies import StoreDep
from services.catalog.reference_audio import store_reference
from services.catalog.schemas import SpeakerList, SpeakerOut
from services.catalog.settings import LANGUAGES, CatalogSettings
from services.catalog.tables import SpeakerRow
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


@router.post("/speakers", response_model=SpeakerOut, summary="Add a voice-cloning (F5-TTS) speaker")
async def create_speaker(
    request: Request,
    store: StoreDep,
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S")],
    language: Annotated[Literal["vi", "en", "fr", "ja", "ko", "zh", "ru"], Form()],
    user_id: Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S")],
    reference_text: Annotated[str, Form(min_length=1, max_length=1000, pattern=r"\S")],
    reference_audio: Annotated[UploadFile, File(description="2-30 s of the voice to clone, any audio format.")],
) -> SpeakerOut:
    settings: CatalogSettings = request.app.state.settings
    speaker_id = str(uuid.uuid4())
    data = await reference_audio.read()
    filename = await asyncio.to_thread(store_reference, data, speaker_id, settings)
    row = SpeakerRow(
        id=speaker_id,
        name=name.strip(),
        language=language,
        user_id=user_id.strip(),
        engine="f5tts",
        voice="clone",
        reference_audio=filename,
        reference_text=reference_text.strip(),
        is_default=False,
        builtin=False,
        created_at=datetime.now(UTC),
    )
    try:
        await store.add_speaker(row)
    except BaseException:
        (settings.reference_audio_dir / filename).unlink(missing_ok=True)
        raise
    return SpeakerOut.of(row)


@router.delete("/speakers/{speaker_id}", summary="Delete one of the user's own speakers")
async def delete_speaker(
    request: Request, store: StoreDep, speaker_id: str, user_id: UserQuery = "default"
) -> dict[str, str]:
    settings: CatalogSettings = request.app.state.settings
    row = await store.delete_speaker(speaker_id, user_id)
    if row.reference_audio:
        (settings.reference_audio_dir / row.reference_audio).unlink(missing_ok=True)
    return {"status": "deleted"}
