"""Wire messages of WS /ws/transcribe/vad: parsed and validated once, at the edge."""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SAMPLE_RATE = 16_000


class ProtocolError(ValueError):
    """A bad client message: answered with an `error` event; the connection stays usable."""


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
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ProtocolError("message must be a JSON object")
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


def decode_pcm(data: str) -> bytes:
    try:
        pcm = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("audio_base_64 is not valid base64") from None
    if len(pcm) % 2:
        raise ProtocolError(f"audio must be int16 PCM: {len(pcm)} bytes is an odd byte count")
    return pcm


def transcript_event(text: str, is_final: bool) -> dict[str, object]:
    return {"type": "transcript", "text": text, "is_final": is_final}


def error_event(message: str) -> dict[str, object]:
    return {"type": "error", "message": message}
