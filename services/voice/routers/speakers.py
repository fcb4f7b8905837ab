"""Speaker verification: register a voice print, verify files against it or against an ad-hoc reference."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from services.common.auth import IdentityDep
from services.common.errors import NotFound
from services.voice.dependencies import VoiceDep
from services.voice.schemas import (
    RegisterResponse,
    SpeakerList,
    SpeakerOut,
    VerifyResponse,
    VerifyWithReferenceResponse,
)
from services.voice.service import display_name
from services.voice.voiceprints import VoicePrint, parse_speaker_id

router = APIRouter(prefix="/voice", tags=["verification"])

Files = Annotated[list[UploadFile], File(description="One or more audio files to verify.")]


def speaker_id_or_404(value: str) -> str:
    speaker_id = parse_speaker_id(value)
    if speaker_id is None:
        raise NotFound(f"no registered speaker {value[:64]!r} (speaker ids are UUIDs from /voice/register)")
    return speaker_id


def speaker_out(voice_print: VoicePrint) -> SpeakerOut:
    return SpeakerOut(
        speaker_id=voice_print.id,
        name=voice_print.name,
        description=voice_print.description,
        file_path=voice_print.reference_path,
        model_id=voice_print.model_id,
        speech_seconds=voice_print.speech_seconds,
        created_at=voice_print.created_at,
        user_id=voice_print.owner,
    )


@router.post("/register", response_model=RegisterResponse, summary="Register a speaker's voice print")
async def register(
    voice: VoiceDep,
    identity: IdentityDep,
    file: Annotated[
        UploadFile, File(description="Reference audio: 3 s of speech or more recommended, 1.5 s at least.")
    ],
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=r"\S", description="Display name.")],
    description: Annotated[str, Form(min_length=1, max_length=2000, pattern=r"\S", description="Short description.")],
) -> RegisterResponse:
    voice_print = await voice.register(file, name.strip(), description.strip(), identity)
    warnings = []
    if voice_print.speech_seconds < voice.settings.enroll_recommended_speech_s:
        warnings.append(
            f"the reference has {voice_print.speech_seconds:.1f} s of speech; at least "
            f"{voice.settings.enroll_recommended_speech_s:.0f} s is recommended for a reliable voice print"
        )
    return RegisterResponse(
        speaker_id=voice_print.id,
        file_path=voice_print.reference_path,
        speech_seconds=voice_print.speech_seconds,
        warnings=warnings,
    )


@router.post("/verify/{speaker_id}", response_model=VerifyResponse, summary="Verify files against a voice print")
async def verify(voice: VoiceDep, identity: IdentityDep, speaker_id: str, files: Files) -> VerifyResponse:
    """Against the caller's own or a shared voice print; another user's is not found."""
    voice_print, results = await voice.verify(speaker_id_or_404(speaker_id), files, identity)
    return VerifyResponse(speaker_id=voice_print.id, reference=voice_print.reference_path, results=results)


@router.post(
    "/verify_with_reference",
    response_model=VerifyWithReferenceResponse,
    summary="Verify files against a reference uploaded in the same request",
)
async def verify_with_reference(
    voice: VoiceDep,
    reference: Annotated[UploadFile, File(description="Reference audio file.")],
    files: Files,
) -> VerifyWithReferenceResponse:
    results = await voice.verify_with_reference(reference, files)
    return VerifyWithReferenceResponse(reference_file=display_name(reference), results=results)


@router.get("/speakers", response_model=SpeakerList, summary="List the caller's and the shared voice prints")
async def list_speakers(
    voice: VoiceDep,
    identity: IdentityDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # past a 32-bit int the database refuses it
) -> SpeakerList:
    prints = await voice.voice_prints(identity, limit, offset)
    return SpeakerList(speakers=[speaker_out(p) for p in prints], limit=limit, offset=offset)


@router.get("/speakers/{speaker_id}", response_model=SpeakerOut, summary="One registered voice print")
async def get_speaker(voice: VoiceDep, identity: IdentityDep, speaker_id: str) -> SpeakerOut:
    return speaker_out(await voice.voice_print(speaker_id_or_404(speaker_id), identity))


@router.delete(
    "/speakers/{speaker_id}", status_code=204, summary="Delete a voice print and its reference audio (biometric data)"
)
async def delete_speaker(voice: VoiceDep, identity: IdentityDep, speaker_id: str) -> Response:
    """The caller's own print; a shared one only with an admin key; another user's is not found."""
    await voice.delete(speaker_id_or_404(speaker_id), identity)
    return Response(status_code=204)
