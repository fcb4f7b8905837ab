"""WS /ws/transcribe/vad: audio in, transcripts (and voice profiles) out."""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from services.common.protocols.base import (
    ASR_SAMPLE_RATE,
    ErrorEvent,
    ProtocolError,
    WireEvent,
    decode_pcm,
    parse_json_object,
    validation_message,
)

# --- client → server ------------------------------------------------------------------------------


class AudioPayload(BaseModel):
    audio_base_64: str


class AudioMessage(BaseModel):
    """{"audio_event": {"audio_base_64": ...}}: int16 16 kHz mono PCM, base64."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["audio_event"] | None = None
    audio_event: AudioPayload


class ConfigMessage(WireEvent):
    """A mid-stream change: `ssap` per the reference; `language` added (a code, checked by the server)."""

    type: Literal["config"] = "config"
    ssap: bool | None = None
    language: str | None = Field(None, max_length=8)


class EndMessage(WireEvent):
    type: Literal["end"] = "end"


@dataclass(frozen=True)
class AudioChunk:
    """An audio message, decoded."""

    pcm: bytes  # int16 little-endian, 16 kHz, mono

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / ASR_SAMPLE_RATE


ClientMessage = AudioChunk | ConfigMessage | EndMessage
_CONTROL: dict[str, type[WireEvent]] = {"config": ConfigMessage, "end": EndMessage}


def parse_client_message(text: str) -> ClientMessage:
    raw = parse_json_object(text)
    kind = raw.get("type")
    try:
        if kind in _CONTROL:
            return _CONTROL[kind].model_validate(raw)
        if kind in (None, "audio_event") and "audio_event" in raw:
            return AudioChunk(decode_pcm(AudioMessage.model_validate(raw).audio_event.audio_base_64))
    except ValidationError as exc:
        raise ProtocolError(validation_message(exc, "invalid message")) from None
    raise ProtocolError(
        'unknown message: send {"audio_event": {"audio_base_64": ...}}, {"type": "config", ...} or {"type": "end"}'
    )


# --- server → client ------------------------------------------------------------------------------


class TranscriptEvent(WireEvent):
    """A partial (`is_final` false) or the end of a turn; `language` (added) is the turn's language.
    `replaces_previous` (added, only with the turn model): this final replaces the final just before it,
    a turn the model ended early that the user went on with; its text is the whole turn."""

    type: Literal["transcript"] = "transcript"
    text: str
    is_final: bool
    language: str | None = None
    replaces_previous: bool | None = None


class SsapEvent(WireEvent):
    """A voice profile: {gender, age, emotion}, each label → probability."""

    type: Literal["ssap"] = "ssap"
    properties: dict[str, dict[str, float]]


class SpeechStartedEvent(WireEvent):
    """Added, sent only to a stream that asks (query `speech_events=true`): the VAD heard a turn start, or a
    turn the turn model had ended go on. The voice agent's barge-in waits for it, so that noise after the
    user's own words (a breath, the room) does not cut its reply."""

    type: Literal["speech_started"] = "speech_started"


ServerEvent = Annotated[TranscriptEvent | SsapEvent | SpeechStartedEvent | ErrorEvent, Field(discriminator="type")]
SERVER_EVENTS: TypeAdapter[TranscriptEvent | SsapEvent | SpeechStartedEvent | ErrorEvent] = TypeAdapter(ServerEvent)
