"""Voice profiling (SSAP): gender, age and emotion of the voice in a recording."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from services.common.protocols.voice_profile import ProfileModel, ProfileResponse
from services.voice.dependencies import VoiceDep

router = APIRouter(prefix="/voice", tags=["profiling"])


@router.post("/profile", response_model=ProfileResponse, summary="Estimate gender, age and emotion of a voice")
async def profile(
    voice: VoiceDep,
    file: Annotated[UploadFile, File(description="One speaker's audio; at least ~1 s of voiced speech.")],
) -> ProfileResponse:
    result = await voice.profile(file)
    return ProfileResponse(
        properties=result.properties,
        models={name: ProfileModel(**info) for name, info in voice.profiler.status().items()},
        voiced_seconds=result.voiced_seconds,
    )
