"""POST /transcribe: the reference's file transcription endpoint."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from services.asr.dependencies import AsrDep
from services.asr.routers.admission import AdmittedRoute, PlaceDep
from services.asr.schemas import SegmentOut, TranscribeResponse

router = APIRouter(tags=["transcription"], route_class=AdmittedRoute)


@router.post("/transcribe", response_model=TranscribeResponse, summary="Transcribe an audio file")
async def transcribe(
    asr: AsrDep,
    place: PlaceDep,
    file: Annotated[UploadFile, File(description="Audio file: wav, mp3, flac, ogg, m4a, webm.")],
    language: Annotated[
        str | None, Form(description="ISO 639-1 code to force the language; omit to auto-detect.")
    ] = None,
) -> TranscribeResponse:
    result = await asr.transcribe_upload(place, file, language)
    t = result.transcription
    return TranscribeResponse(
        filename=result.filename,
        text=t.text,
        segments=[SegmentOut(**vars(s)) for s in t.segments],
        duration=t.duration,
        processing_time=result.processing_time,
        language=t.language,
        language_probability=t.language_probability if language is None and t.segments else None,
    )
