"""/api/speakers: the TTS voices a user can pick, and voice-cloning speakers a user adds; their reference
recordings for the fleet at /internal/speakers/{id}/reference-audio (not routed by the gateway)."""

from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import Response

from services.catalog.dependencies import CatalogDep
from services.catalog.schemas import Deleted, SpeakerList, SpeakerOut
from services.common.languages import Language

router = APIRouter(prefix="/api", tags=["speakers"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserQuery = Annotated[str, Query(min_length=1, max_length=200, description="`default`: shared speakers only.")]
UserForm = Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S")]
ReferenceText = Annotated[str, Form(min_length=1, max_length=1000, pattern=r"\S")]
ReferenceUpload = Annotated[UploadFile, File(description="2-30 s of the voice to clone, any audio format.")]


@router.get("/speakers", response_model=SpeakerList, summary="Shared speakers plus the user's own")
async def list_speakers(
    catalog: CatalogDep, user_id: UserQuery = "default", language: str | None = None
) -> SpeakerList:
    return await catalog.speakers(user_id, language)


@router.get("/speakers/{speaker_id}", response_model=SpeakerOut, summary="One speaker")
async def get_speaker(catalog: CatalogDep, speaker_id: str) -> SpeakerOut:
    return await catalog.speaker(speaker_id)


@router.post("/speakers", response_model=SpeakerOut, summary="Add a voice-cloning (F5-TTS) speaker")
async def create_speaker(
    catalog: CatalogDep,
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S")],
    language: Annotated[Language, Form()],
    user_id: UserForm,
    reference_text: ReferenceText,
    reference_audio: ReferenceUpload,
) -> SpeakerOut:
    recording = await reference_audio.read()
    return await catalog.add_cloning_speaker(name, language, user_id, reference_text, recording)


@router.put(
    "/speakers/{speaker_id}/reference-audio",
    response_model=SpeakerOut,
    summary="Replace the reference recording (and its transcript) of one of the user's cloning speakers",
)
async def replace_reference_audio(
    catalog: CatalogDep,
    speaker_id: str,
    user_id: UserForm,
    reference_text: ReferenceText,
    reference_audio: ReferenceUpload,
) -> SpeakerOut:
    recording = await reference_audio.read()
    return await catalog.replace_reference(speaker_id, user_id, reference_text, recording)


@router.delete("/speakers/{speaker_id}", response_model=Deleted, summary="Delete one of the user's own speakers")
async def delete_speaker(catalog: CatalogDep, speaker_id: str, user_id: UserQuery = "default") -> Deleted:
    await catalog.delete_speaker(speaker_id, user_id)
    return Deleted()


@internal.get(
    "/speakers/{speaker_id}/reference-audio",
    response_class=Response,
    summary="A cloning speaker's reference recording, 24 kHz mono WAV (fleet only)",
    responses={200: {"content": {"audio/wav": {}}}, 304: {"description": "Unchanged since `If-None-Match`."}},
)
async def reference_audio(
    catalog: CatalogDep, speaker_id: str, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    """For the tts service, which keeps recordings in a cache and revalidates them with `If-None-Match`."""
    speaker, recording = await catalog.reference_recording(speaker_id)
    headers = {
        "ETag": recording.etag,
        "Last-Modified": format_datetime(speaker.updated_at, usegmt=True),
        "Cache-Control": "no-cache",
    }
    if if_none_match and recording.etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(recording.wav, media_type="audio/wav", headers=headers)
