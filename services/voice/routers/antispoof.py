"""Anti-spoofing: is this a live human voice or synthetic / replayed audio?"""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from services.voice.dependencies import VoiceDep
from services.voice.schemas import SpoofMode, SpoofResponse

router = APIRouter(prefix="/voice", tags=["anti-spoofing"])


@router.post("/anti-spoof", response_model=SpoofResponse, summary="Detect synthetic or replayed speech")
async def anti_spoof(
    voice: VoiceDep,
    files: Annotated[list[UploadFile], File(description="Audio files to analyse.")],
    mode: Annotated[
        SpoofMode,
        Form(description="bank_top_security (strictest), bank_flex (balanced) or consumer (lenient)."),
    ] = "bank_flex",
) -> SpoofResponse:
    model, results = await voice.detect_spoof(files, mode)
    return SpoofResponse(mode=mode, model=model, results=results)
