"""/api/speakers: the TTS voices a user can pick, and voice-cloning speakers a user adds; their reference
recordings for the fleet at /internal/speakers/{id}/reference-audio (not routed by the gateway). The fleet
reads speakers at /internal/speakers[/{id}] with its caller's key, which needs no catalog scope there (a key
for tts alone can still pick its voices), and sees what that caller sees."""

from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import Response

from services.catalog.access import creator, reader, writer
from services.catalog.dependencies import CatalogDep
from services.catalog.schemas import Deleted, SpeakerList, SpeakerOut
from services.common.auth import IdentityDep
from services.common.languages import Language

router = APIRouter(prefix="/api", tags=["speakers"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The caller (`default`: shared speakers only). With API keys the key says who the caller "
        "is, and this may only name its own user (or `default` for reading; any user: admin keys).",
    ),
]
UserForm = Annotated[
    str | None,
    Form(min_length=1, max_length=200, pattern=r"\S", description="The owner; with API keys, the key's user."),
]
ReferenceText = Annotated[str, Form(min_length=1, max_length=1000, pattern=r"\S")]
ReferenceUpload = Annotated[UploadFile, File(description="2-30 s of the voice to clone, any audio format.")]


@router.get("/speakers", response_model=SpeakerList, summary="Shared speakers plus the user's own")
@internal.get("/speakers", response_model=SpeakerList, summary="The caller's speakers, for the fleet")
async def list_speakers(
    catalog: CatalogDep, identity: IdentityDep, user_id: UserQuery = None, language: str | None = None
) -> SpeakerList:
    return await catalog.speakers(reader(identity, user_id), language)


@router.get("/speakers/{speaker_id}", response_model=SpeakerOut, summary="One speaker")
@internal.get("/speakers/{speaker_id}", response_model=SpeakerOut, summary="One speaker, for the fleet")
async def get_speaker(catalog: CatalogDep, identity: IdentityDep, speaker_id: str) -> SpeakerOut:
    """Another user's speaker is not found (with API keys; without, every speaker is found by its id)."""
    return await catalog.speaker(speaker_id, reader(identity, None))


@router.post("/speakers", response_model=SpeakerOut, summary="Add a voice-cloning (F5-TTS) speaker")
async def create_speaker(
    catalog: CatalogDep,
    identity: IdentityDep,
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S")],
    language: Annotated[Language, Form()],
    reference_text: ReferenceText,
    reference_audio: ReferenceUpload,
    user_id: UserForm = None,
) -> SpeakerOut:
    owner = creator(identity, user_id.strip() if user_id else None)
    recording = await reference_audio.read()
    return await catalog.add_cloning_speaker(name, language, owner, reference_text, recording)


@router.put(
    "/speakers/{speaker_id}/reference-audio",
    response_model=SpeakerOut,
    summary="Replace the reference recording (and its transcript) of one of the user's cloning speakers",
)
async def replace_reference_audio(
    catalog: CatalogDep,
    identity: IdentityDep,
    speaker_id: str,
    reference_text: ReferenceText,
    reference_audio: ReferenceUpload,
    user_id: UserForm = None,
) -> SpeakerOut:
    caller = writer(identity, user_id.strip() if user_id else None)
    recording = await reference_audio.read()
    return await catalog.replace_reference(speaker_id, caller, reference_text, recording)


@router.delete("/speakers/{speaker_id}", response_model=Deleted, summary="Delete one of the user's own speakers")
async def delete_speaker(
    catalog: CatalogDep, identity: IdentityDep, speaker_id: str, user_id: UserQuery = None
) -> Deleted:
    await catalog.delete_speaker(speaker_id, writer(identity, user_id))
    return Deleted()


@internal.get(
    "/speakers/{speaker_id}/reference-audio",
    response_class=Response,
    summary="A cloning speaker's reference recording, 24 kHz mono WAV (fleet only)",
    responses={200: {"content": {"audio/wav": {}}}, 304: {"description": "Unchanged since `If-None-Match`."}},
)
async def reference_audio(
    catalog: CatalogDep,
    identity: IdentityDep,
    speaker_id: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """For the tts service, which keeps recordings in a cache and revalidates them with `If-None-Match`; it
    calls with its caller's key, and another user's speaker is not found."""
    speaker, recording = await catalog.reference_recording(speaker_id, reader(identity, None))
    headers = {
        "ETag": recording.etag,
        "Last-Modified": format_datetime(speaker.updated_at, usegmt=True),
        "Cache-Control": "no-cache",
    }
    if if_none_match and recording.etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(recording.wav, media_type="audio/wav", headers=headers)
