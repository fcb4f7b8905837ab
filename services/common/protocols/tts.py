"""WS /ws/tts: a request in, binary 24 kHz int16 PCM frames and an `end` event out."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from services.common.languages import Language
from services.common.protocols.base import TTS_SAMPLE_RATE, ErrorEvent, PlainText, WireEvent


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    target_text: PlainText = Field(description="Text to synthesize.")
    speaker_id: str | None = Field(None, description="Speaker UUID; wins over collection_id.")
    collection_id: str | None = Field(None, description="Collection UUID: its speaker for `language`.")
    language: Language | None = Field(None, description="vi, en, fr, ja, ko, zh, ru (default vi, or the speaker's).")
    continues: bool | None = Field(
        None,
        description="Added: the text goes on from the previous request's (a first piece the client sent before its "
        "sentence was complete): it is said as later pieces are, its first piece not cut again.",
    )


class EndEvent(WireEvent):
    """All frames sent; `speaker_id`, `frames` and `duration` (s) are added to the reference's event."""

    type: Literal["end"] = "end"
    speaker_id: str | None = None
    frames: int | None = None
    duration: float | None = None

    @classmethod
    def of(cls, speaker_id: str, frames: int, samples: int) -> "EndEvent":
        return cls(speaker_id=speaker_id, frames=frames, duration=round(samples / TTS_SAMPLE_RATE, 3))


ServerEvent = Annotated[EndEvent | ErrorEvent, Field(discriminator="type")]
SERVER_EVENTS: TypeAdapter[EndEvent | ErrorEvent] = TypeAdapter(ServerEvent)
