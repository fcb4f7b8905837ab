"""Wire messages of WS /ws/voice-chat (field names and event types from the API reference)."""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common.wire import ProtocolError, decode_pcm, parse_json_object

LANGUAGES = ("vi", "en", "fr", "ja", "ko", "zh", "ru")
Language = Literal["vi", "en", "fr", "ja", "ko", "zh", "ru"]
# How the system prompt names the conversation's language (the `{language}` of LANGUAGE_PROMPT).
LANGUAGE_NAMES = {
    "vi": "Vietnamese (tiếng Việt)",
    "en": "English",
    "fr": "French (français)",
    "ja": "Japanese (日本語)",
    "ko": "Korean (한국어)",
    "zh": "Mandarin Chinese (中文)",
    "ru": "Russian (русский)",
}
MAX_AUDIO_CHUNK_BYTES = 32_000 * 2  # 2 s of 16 kHz int16 per message


class Config(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["config"]
    speaker_id: str | None = None
    collection_id: str | None = None
    language: Language = "vi"
    tts_ws_url: str | None = None
    asr_ws_url: str | None = None
    llm_base_url: str | None = None
    llm_model: str | None = Field(None, max_length=200)
    user_system_prompt: str | None = Field(None, max_length=4000)
    ssap: bool = False


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # int16 little-endian, 16 kHz, mono
    raw: str  # the message as received, forwarded to the ASR unchanged


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class End:
    pass


ClientMessage = Audio | TextInput | End


def parse_config(text: str) -> Config:
    raw = parse_json_object(text)
    if raw.get("type") != "config":
        raise ProtocolError('the first message must be {"type": "config", ...}')
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ProtocolError(f"invalid config: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def parse_client_message(text: str) -> ClientMessage:
    raw = parse_json_object(text)
    kind = raw.get("type")
    if kind == "end":
        return End()
    if kind == "text_input":
        value = raw.get("text")
        if not isinstance(value, str) or not value.strip():
            raise ProtocolError("text_input needs a non-empty `text`")
        return TextInput(value.strip()[:4000])
    event = raw.get("audio_event")
    if isinstance(event, dict) and isinstance(event.get("audio_base_64"), str):
        pcm = decode_pcm(event["audio_base_64"])
        if len(pcm) > MAX_AUDIO_CHUNK_BYTES:
            raise ProtocolError("an audio_event may carry at most 2 s of audio")
        return Audio(pcm, text)
    if kind == "config":
        raise ProtocolError("config is only accepted as the first message")
    raise ProtocolError('unknown message: send audio_event, {"type": "text_input", "text": ...} or {"type": "end"}')


def event(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, **fields}


def error(source: Literal["llm", "tts", "asr", "client"], message: str) -> dict[str, object]:
    return {"type": "error", "source": source, "message": message}


def latency(step: str, seconds: float) -> dict[str, object]:
    return {"type": "latency", "step": step, "value": f"{round(seconds * 1000)}ms"}
