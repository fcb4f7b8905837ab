"""What every WebSocket protocol shares: the wire's audio formats, parsing of JSON objects and
base64 int16 PCM (checked once), the one error event, and typed events that serialise themselves."""

import base64
import binascii
import json
import re
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError

ASR_SAMPLE_RATE = 16_000  # audio sent to the platform: int16, 16 kHz, mono
TTS_SAMPLE_RATE = 24_000  # audio the platform sends back: int16, 24 kHz, mono


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str) -> str:
    """Text for a model (LLM, TTS): a lone surrogate (valid JSON, not Unicode) is refused; NUL and
    other control characters become spaces."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (it holds a lone surrogate)") from None
    return CONTROL_CHARACTERS.sub(" ", value)


PlainText = Annotated[str, AfterValidator(plain_text)]


class ProtocolError(ValueError):
    """A bad client message: answered with an `error` event; the connection stays usable."""


class WireEvent(BaseModel):
    """A JSON event with a `type`. Fields left None are not sent, so optional additions to the
    reference's events stay out of the way of clients that do not know them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)

    def json_text(self) -> str:
        return json.dumps(self.wire(), ensure_ascii=False)


ErrorSource = Literal["llm", "tts", "asr", "client", "server"]


class ErrorEvent(WireEvent):
    """The one error shape: `message` always; `source` on the voice chat and the DataChannel (which
    stage failed), `code` where a machine-readable reason exists (`rate_limited`, `busy`)."""

    type: Literal["error"] = "error"
    message: str
    source: ErrorSource | None = None
    code: str | None = None


def parse_json_object(text: str) -> dict:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc.msg})") from None
    except RecursionError:  # json.loads recurses once per level: 10,000-deep brackets end here
        raise ProtocolError("message is nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProtocolError("message must be a JSON object")
    return raw


def decode_pcm(data: str) -> bytes:
    """int16 PCM bytes from base64; an odd byte count is refused."""
    try:
        pcm = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("audio_base_64 is not valid base64") from None
    if len(pcm) % 2:
        raise ProtocolError(f"audio must be int16 PCM: {len(pcm)} bytes is an odd byte count")
    return pcm


def validation_message(exc: ValidationError, prefix: str) -> str:
    first = exc.errors()[0]
    return f"{prefix}: {'.'.join(map(str, first['loc']))}: {first['msg']}"


E = TypeVar("E")


def parse_event(adapter: TypeAdapter[E], text: str) -> E | None:
    """A server's event, typed; None for an event type this side does not know (a newer or an
    external server may send more). A known type with bad fields raises ProtocolError."""
    raw = parse_json_object(text)
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        if any(error["type"] == "union_tag_invalid" for error in exc.errors()):
            return None
        raise ProtocolError(validation_message(exc, f"bad {raw.get('type')!r} event")) from None


def event_or_error(adapter: TypeAdapter[E], text: str, sender: str) -> E | ErrorEvent | None:
    """`parse_event` for a client that reports a malformed event from `sender` instead of raising."""
    try:
        return parse_event(adapter, text)
    except ProtocolError as exc:
        return ErrorEvent(message=f"the {sender} sent a bad event: {exc}")
