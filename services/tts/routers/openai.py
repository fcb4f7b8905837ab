"""POST /v1/audio/speech in the OpenAI shape, streamed as it is synthesised, and GET /v1/models (the TTS
models, for a client whose base URL is :8005).

`voice` is an OpenAI voice name (alloy, ash, ...: TTS_OPENAI_VOICES maps it to a catalog speaker per
language, else the language's default) or a catalog speaker id; `language` (an addition) picks the language,
else the speaker's, else TTS_OPENAI_LANGUAGE. `response_format` mp3 | opus | aac | flac | wav | pcm (24 kHz,
16-bit, mono); `speed` 0.25-4.0 is a pitch-preserving time stretch. `model` is accepted and does not pick the
engine (the voice does); `instructions` and `stream_format: "sse"` are refused, not ignored."""

from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.common.auth import IdentityDep
from services.common.catalog_client import UnknownReference
from services.common.errors import InvalidInput
from services.common.languages import Language
from services.common.openai_models import add_model_routes
from services.common.protocols.base import PlainText
from services.tts.dependencies import TtsDep
from services.tts.encoding import MAX_SPEED, MEDIA_TYPES, MIN_SPEED, SpeechFormat, encoded
from services.tts.service import SynthesisError, TtsService
from services.tts.settings import OPENAI_VOICES, OUTPUT_RATE

router = APIRouter(prefix="/v1", tags=["openai"])
TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")  # the names OpenAI clients send; all are the fleet's TTS


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("tts-1", description="Accepted; the voice picks the engine (GET /v1/models lists them).")
    input: PlainText = Field(description="Text to say.")
    voice: str | None = Field(
        None, description="An OpenAI voice (alloy, ash, ...) or a speaker UUID from /api/speakers; omitted: default."
    )
    language: Language | None = Field(None, description="Omitted: the speaker's, else TTS_OPENAI_LANGUAGE.")
    response_format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description="Pitch-preserving time stretch.")
    instructions: str | None = Field(None, description="Not supported (the engines have no style control): refused.")
    stream_format: Literal["audio"] = Field("audio", description="Only `audio` (no server-sent events).")


def speaker_for(tts: TtsService, voice: str | None, language: str) -> str | None:
    """The catalog speaker id for `voice` in `language`; None: the language's default speaker."""
    if voice is None:
        return None
    mapped = tts.settings.tts_openai_voices.get(voice.lower())
    if mapped is not None:
        return mapped.get(language)
    return None if voice.lower() in OPENAI_VOICES else voice


def request_language(tts: TtsService, body: SpeechRequest) -> str | None:
    """The request's language; None where a catalog speaker id names it."""
    if body.language is not None:
        return body.language
    named = body.voice is not None and body.voice.lower() in {*OPENAI_VOICES, *tts.settings.tts_openai_voices}
    return tts.settings.tts_openai_language if body.voice is None or named else None


@router.post("/audio/speech", summary="Synthesize speech (OpenAI-compatible)", response_class=StreamingResponse)
async def speech(tts: TtsDep, identity: IdentityDep, body: SpeechRequest) -> StreamingResponse:
    if body.instructions:
        raise InvalidInput("instructions are not supported: the fleet's TTS engines have no style control")
    language = request_language(tts, body)
    try:
        pieces = tts.check_text(body.input)
        speaker = speaker_for(tts, body.voice, language) if language is not None else body.voice
        resolved = await tts.resolve(speaker, None, language, identity)
        chunks = encoded(tts.stream(pieces, resolved.voice), body.response_format, body.speed)
        first = await anext(chunks, b"")  # errors before any byte (busy, engine) are the response's status
    except (SynthesisError, UnknownReference) as exc:
        raise InvalidInput(str(exc)) from exc
    headers = {"X-Sample-Rate": str(OUTPUT_RATE), "X-Speaker-Id": resolved.speaker_id}
    return StreamingResponse(_prepend(first, chunks), media_type=MEDIA_TYPES[body.response_format], headers=headers)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


def tts_models(tts: TtsDep) -> list[str]:
    """OpenAI's TTS model names, then each loaded engine's model as /readyz names it."""
    return [*TTS_MODELS, *(engine.spec for engine in tts.engines.values() if engine.value is not None)]


add_model_routes(router, tts_models, "TTS")
