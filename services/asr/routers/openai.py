"""POST /v1/audio/transcriptions in the OpenAI shape, on the same engine as /transcribe."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse

from services.asr.dependencies import AsrDep
from services.asr.formats import to_srt, to_vtt
from services.asr.routers.admission import AdmittedRoute, PlaceDep
from services.asr.schemas import OpenAITranscription, OpenAIVerboseTranscription, SegmentOut

router = APIRouter(prefix="/v1/audio", tags=["openai"], route_class=AdmittedRoute)

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]


@router.post(
    "/transcriptions",
    response_model=OpenAITranscription | OpenAIVerboseTranscription,
    summary="OpenAI-compatible transcription",
)
async def create_transcription(
    asr: AsrDep,
    place: PlaceDep,
    file: Annotated[UploadFile, File(description="Audio file.")],
    model: Annotated[
        str, Form(description="Accepted for compatibility; the service's configured model is used.")
    ] = "whisper-1",
    language: Annotated[str | None, Form(description="ISO 639-1 code; omit to auto-detect.")] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
) -> OpenAITranscription | OpenAIVerboseTranscription | PlainTextResponse:
    result = await asr.transcribe_upload(place, file, language)
    t = result.transcription
    if response_format == "text":
        return PlainTextResponse(t.text)
    if response_format == "srt":
        return PlainTextResponse(to_srt(t.segments), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(t.segments), media_type="text/vtt")
    if response_format == "verbose_json":
        return OpenAIVerboseTranscription(
            language=t.language,
            duration=t.duration,
            text=t.text,
            segments=[SegmentOut(**vars(s)) for s in t.segments],
        )
    return OpenAITranscription(text=t.text)
