"""WS /ws/voice-chat: a config, then audio or text in; transcripts, the agent's text events and
binary 24 kHz int16 PCM audio out."""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from services.common.languages import DEFAULT_LANGUAGE, Language
from services.common.protocols.base import (
    ErrorEvent,
    PlainText,
    ProtocolError,
    WireEvent,
    decode_pcm,
    parse_json_object,
    plain_text,
    validation_message,
)
from services.common.protocols.transcribe import AudioPayload, SsapEvent, TranscriptEvent

MAX_AUDIO_CHUNK_BYTES = 32_000 * 2  # 2 s of 16 kHz int16 per message
MAX_TEXT_INPUT_CHARS = 4000

# --- client → server ------------------------------------------------------------------------------


class Config(WireEvent):
    """The first message. All fields optional except type."""

    type: Literal["config"] = "config"
    speaker_id: str | None = None
    collection_id: str | None = None
    language: Language = DEFAULT_LANGUAGE
    tts_ws_url: str | None = None
    asr_ws_url: str | None = None
    llm_base_url: str | None = None
    llm_model: PlainText | None = Field(None, max_length=200)
    user_system_prompt: PlainText | None = Field(None, max_length=4000)
    ssap: bool = False


class TextInput(WireEvent):
    """Text that bypasses the ASR."""

    type: Literal["text_input"] = "text_input"
    text: str


class End(WireEvent):
    type: Literal["end"] = "end"


@dataclass(frozen=True)
class Audio:
    """An audio_event message, decoded."""

    pcm: bytes  # int16 little-endian, 16 kHz, mono
    raw: str  # the message as received, forwarded to the ASR unchanged


ClientMessage = Audio | TextInput | End


def parse_config(text: str) -> Config:
    raw = parse_json_object(text)
    if raw.get("type") != "config":
        raise ProtocolError('the first message must be {"type": "config", ...}')
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ProtocolError(validation_message(exc, "invalid config")) from None


def parse_client_message(text: str) -> ClientMessage:
    raw = parse_json_object(text)
    kind = raw.get("type")
    if kind == "end":
        return End()
    if kind == "text_input":
        value = raw.get("text")
        if not isinstance(value, str) or not value.strip():
            raise ProtocolError("text_input needs a non-empty `text`")
        try:
            return TextInput(text=plain_text(value).strip()[:MAX_TEXT_INPUT_CHARS])
        except ValueError as exc:
            raise ProtocolError(f"text_input: {exc}") from None
    if isinstance(raw.get("audio_event"), dict):
        try:
            payload = AudioPayload.model_validate(raw["audio_event"])
        except ValidationError:
            raise ProtocolError("audio_event needs a string `audio_base_64`") from None
        pcm = decode_pcm(payload.audio_base_64)
        if len(pcm) > MAX_AUDIO_CHUNK_BYTES:
            raise ProtocolError("an audio_event may carry at most 2 s of audio")
        return Audio(pcm, text)
    if kind == "config":
        raise ProtocolError("config is only accepted as the first message")
    raise ProtocolError('unknown message: send audio_event, {"type": "text_input", "text": ...} or {"type": "end"}')


# --- server → client ------------------------------------------------------------------------------


class Ready(WireEvent):
    type: Literal["ready"] = "ready"


class Thinking(WireEvent):
    type: Literal["thinking"] = "thinking"


class AgentText(WireEvent):
    type: Literal["agent_text"] = "agent_text"
    text: str


class AgentEnd(WireEvent):
    """The reply is complete; `language` and `speaker_id` (the voice the TTS used) are added."""

    type: Literal["agent_end"] = "agent_end"
    language: str | None = None
    speaker_id: str | None = None


class Interrupted(WireEvent):
    """Added: the user spoke over the agent (barge-in); the reply's remaining audio is dropped."""

    type: Literal["interrupted"] = "interrupted"


class Latency(WireEvent):
    type: Literal["latency"] = "latency"
    step: Literal["llm", "tts_first"]
    value: str  # "142ms"

    @classmethod
    def of(cls, step: Literal["llm", "tts_first"], seconds: float) -> "Latency":
        return cls(step=step, value=f"{round(seconds * 1000)}ms")


class Disconnect(WireEvent):
    type: Literal["disconnect"] = "disconnect"
    reason: str


ServerEvent = Annotated[
    Ready
    | TranscriptEvent
    | Thinking
    | AgentText
    | AgentEnd
    | Interrupted
    | SsapEvent
    | Latency
    | ErrorEvent
    | Disconnect,
    Field(discriminator="type"),
]
SERVER_EVENTS: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
