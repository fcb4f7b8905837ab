"""Wire messages of WS /ws/transcribe/vad: parsed and validated once, at the edge."""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common.wire import ProtocolError, decode_pcm, parse_json_object

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioChunk:
    pcm: bytes  # int16 little-endian, 16 kHz, mono

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE


class _AudioEvent(BaseModel):
    audio_base_64: str


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["audio_event", "config", "end"] | None = None
    audio_event: _AudioEvent | None = None
    ssap: bool | None = None
    language: str | None = Field(None, max_length=8)


@dataclass(frozen=True)
class ConfigUpdate:
    ssap: bool | None
    language: str | None


@dataclass(frozen=True)
class EndOfStream:
    pass


ClientMessage = AudioChunk | ConfigUpdate | EndOfStream


def parse_client_message(text: str) -> ClientMessage:
    raw = parse_json_object(text)
    try:
        message = _ClientMessage.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(f"invalid message: {where}: {first['msg']}") from None
    if message.type == "end":
        return EndOfStream()
    if message.type == "config":
        return ConfigUpdate(ssap=message.ssap, language=message.language)
    if message.audio_event is not None:
        return AudioChunk(decode_pcm(message.audio_event.audio_base_64))
    raise ProtocolError(
        'unknown message: send {"audio_event": {"audio_base_64": ...}}, {"type": "config", ...} or {"type": "end"}'
    )


def transcript_event(text: str, is_final: bool, language: str | None = None) -> dict[str, object]:
    """`language`: the turn's language (given, or detected per turn), added to the reference's fields."""
    event: dict[str, object] = {"type": "transcript", "text": text, "is_final": is_final}
    if language:
        event["language"] = language
    return event


def error_event(message: str) -> dict[str, object]:
    return {"type": "error", "message": message}
