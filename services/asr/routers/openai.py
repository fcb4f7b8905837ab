"""OpenAI's audio routes on the same engine as /transcribe: POST /v1/audio/transcriptions and
/v1/audio/translations (Whisper's translate task, into English), and GET /v1/models (the ASR models, for a
client whose base URL is :8124). Errors are OpenAI's shape there (services/common/openai_errors.py)."""

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel

from services.asr.dependencies import AsrDep
from services.asr.formats import to_srt, to_vtt
from services.asr.routers.admission import AdmittedRoute, PlaceDep
from services.asr.schemas import OpenAITranscription, OpenAIVerboseTranscription, SegmentOut, WordOut
from services.asr.service import AsrService, FileResult
from services.asr.transcriber import DecodeRequest
from services.common.errors import InvalidInput
from services.common.openai_models import add_model_routes
from services.common.workers import Place

router = APIRouter(prefix="/v1", tags=["openai"], route_class=AdmittedRoute)
models_router = APIRouter(prefix="/v1", tags=["openai"])

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
Granularity = Literal["word", "segment"]
ASR_MODELS = ("whisper-1",)  # the name OpenAI clients send; the service's configured model answers it
FileField = Annotated[UploadFile, File(description="Audio file.")]
ModelField = Annotated[str, Form(description="Accepted for compatibility; the service's configured model is used.")]
PromptField = Annotated[str | None, Form(description="Text Whisper continues from (names, spelling, style).")]
TemperatureField = Annotated[
    float | None, Form(ge=0, le=1, description="0 or omitted: Whisper's fallback from 0 up; else this temperature.")
]
FormatField = Annotated[ResponseFormat, Form()]


def _timed(result: FileResult, granularities: list[Granularity], task: str) -> OpenAIVerboseTranscription:
    t = result.transcription
    segments = [SegmentOut(**{k: v for k, v in vars(s).items() if k != "words"}) for s in t.segments]
    words = [WordOut(word=w.word.strip(), start=w.start, end=w.end) for s in t.segments for w in s.words]
    return OpenAIVerboseTranscription(
        task=task,
        language=t.language,
        duration=t.duration,
        text=t.text,
        segments=segments if "segment" in granularities else None,
        words=words if "word" in granularities else None,
    )


def answer(
    result: FileResult, response_format: ResponseFormat, granularities: list[Granularity], task: str
) -> BaseModel | Response:
    t = result.transcription
    if response_format == "text":
        return PlainTextResponse(t.text)
    if response_format == "srt":
        return PlainTextResponse(to_srt(t.segments), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(to_vtt(t.segments), media_type="text/vtt")
    if response_format == "verbose_json":
        return _timed(result, granularities, task)
    return OpenAITranscription(text=t.text)


async def run(
    asr: AsrService,
    place: Place,
    file: UploadFile,
    language: str | None,
    granularities: list[Granularity],
    request: DecodeRequest,
) -> FileResult:
    return await asr.transcribe_upload(place, file, language, words="word" in granularities, request=request)


def checked_granularities(granularities: list[Granularity] | None, response_format: ResponseFormat) -> list:
    if granularities and response_format != "verbose_json":
        raise InvalidInput("timestamp_granularities needs response_format verbose_json")
    return granularities or ["segment"]


@router.post(
    "/audio/transcriptions",
    response_model=OpenAITranscription | OpenAIVerboseTranscription,
    response_model_exclude_none=True,
    summary="OpenAI-compatible transcription",
)
async def create_transcription(
    asr: AsrDep,
    file: FileField,
    model: ModelField = "whisper-1",
    language: Annotated[str | None, Form(description="ISO 639-1 code; omit to auto-detect.")] = None,
    prompt: PromptField = None,
    temperature: TemperatureField = None,
    response_format: FormatField = "json",
    timestamp_granularities: Annotated[
        list[Granularity] | None,
        Form(alias="timestamp_granularities[]", description="word and/or segment (verbose_json only)."),
    ] = None,
    stream: Annotated[bool, Form(description="Server-sent events: transcript.text.delta, then .done.")] = False,
) -> BaseModel | Response:
    granularities = checked_granularities(timestamp_granularities, response_format)
    request = DecodeRequest("transcribe", prompt, temperature or None)
    if stream:
        if response_format not in ("json", "text"):
            raise InvalidInput("stream needs response_format json or text")
        events = _events(asr, file, language, request)
        first = await anext(events)  # a bad file, language or a full queue is the status, before any event
        return StreamingResponse(_prepend(first, events), media_type="text/event-stream")
    with asr.requests.acquire() as place:
        result = await run(asr, place, file, language, granularities, request)
    return answer(result, response_format, granularities, "transcribe")


async def _events(
    asr: AsrService, file: UploadFile, language: str | None, request: DecodeRequest
) -> AsyncIterator[str]:
    """OpenAI's transcript events: the text of each piece of the file as it is decoded, in order (a file of one
    Whisper window is one delta), then the whole text. The request's place is held until the last event."""
    sent = text = ""
    with asr.requests.acquire() as place:
        async for so_far in asr.transcribe_in_order(place, file, language, request):
            text = so_far.text
            if text.startswith(sent) and len(text) > len(sent):
                yield _event({"type": "transcript.text.delta", "delta": text[len(sent) :]})
                sent = text
    yield _event({"type": "transcript.text.done", "text": text})


async def _prepend(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for event in rest:
        yield event


def _event(data: dict[str, str]) -> str:
    return f"data: {json.dumps(data)}\n\n"


@router.post(
    "/audio/translations",
    response_model=OpenAITranscription | OpenAIVerboseTranscription,
    response_model_exclude_none=True,
    summary="OpenAI-compatible translation into English",
)
async def create_translation(
    asr: AsrDep,
    place: PlaceDep,
    file: FileField,
    model: ModelField = "whisper-1",
    prompt: PromptField = None,
    temperature: TemperatureField = None,
    response_format: FormatField = "json",
) -> BaseModel | Response:
    request = DecodeRequest("translate", prompt, temperature or None)
    result = await run(asr, place, file, None, ["segment"], request)
    return answer(result, response_format, ["segment"], "translate")


def asr_models(asr: AsrDep) -> list[str]:
    """whisper-1 (what OpenAI clients send) and the configured model as /readyz names it, once loaded."""
    return [*ASR_MODELS, *([asr.whisper.spec] if asr.whisper.value is not None else [])]


add_model_routes(models_router, asr_models, "ASR")
