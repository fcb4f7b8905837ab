"""POST /v1/audio/speech in the OpenAI shape: `input`, `voice` (a speaker id, or an engine voice name),
`response_format` wav | pcm (24 kHz, 16-bit, mono)."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.audio import wav_bytes
from services.common.auth import IdentityDep
from services.common.catalog_client import UnknownReference
from services.common.errors import InvalidInput
from services.common.languages import Language
from services.common.protocols.base import PlainText
from services.tts.dependencies import TtsDep
from services.tts.service import SynthesisError
from services.tts.settings import OUTPUT_RATE

router = APIRouter(prefix="/v1/audio", tags=["openai"])


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `model`, `speed`, `instructions` are accepted and ignored

    input: PlainText = Field(description="Text to say.")
    voice: str | None = Field(None, description="Speaker UUID from /api/speakers; omitted: the language's default.")
    language: Language | None = None
    response_format: Literal["wav", "pcm"] = "wav"


@router.post("/speech", summary="Synthesize speech (OpenAI-compatible)", response_class=Response)
async def speech(tts: TtsDep, identity: IdentityDep, body: SpeechRequest) -> Response:
    try:
        pieces = tts.check_text(body.input)
        resolved = await tts.resolve(body.voice, None, body.language, identity)
        pcm = b"".join([frame async for frame in tts.stream(pieces, resolved.voice)])
    except (SynthesisError, UnknownReference) as exc:
        raise InvalidInput(str(exc)) from exc
    if body.response_format == "pcm":
        return Response(pcm, media_type="audio/pcm", headers={"X-Sample-Rate": str(OUTPUT_RATE)})
    return Response(wav_bytes(pcm, OUTPUT_RATE), media_type="audio/wav")
