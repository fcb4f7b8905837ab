"""Wire messages of WS /ws/tts (field names from the API reference)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["vi", "en", "fr", "ja", "ko", "zh", "ru"]


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    target_text: str = Field(description="Text to synthesize.")
    speaker_id: str | None = Field(None, description="Speaker UUID; wins over collection_id.")
    collection_id: str | None = Field(None, description="Collection UUID: its speaker for `language`.")
    language: Language | None = Field(None, description="vi, en, fr, ja, ko, zh, ru (default vi, or the speaker's).")


def end_event(speaker_id: str, frames: int, samples: int) -> dict[str, object]:
    return {"type": "end", "speaker_id": speaker_id, "frames": frames, "duration": round(samples / 24_000, 3)}


def error_event(message: str) -> dict[str, str]:
    return {"type": "error", "message": message}
