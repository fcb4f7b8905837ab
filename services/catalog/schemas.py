"""Wire schemas of the catalog (field names follow the API reference)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.catalog.tables import CollectionRow, SpeakerRow

UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Langs = dict[str, str]


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SpeakerOut(BaseModel):
    id: str
    name: str
    reference_audio: str | None = Field(description="Reference recording (voice cloning engines); null otherwise.")
    reference_text: str | None = Field(description="Transcript of `reference_audio`.")
    language: str
    user_id: str
    engine: str = Field(description="TTS engine behind the speaker: piper, kokoro, espeak, f5tts.")
    voice: str = Field(description="The engine's voice id.")
    default: bool = Field(description="The speaker used for its language when a request names none.")
    updated_at: datetime = Field(description="When the speaker (its reference recording) last changed.")

    @classmethod
    def of(cls, row: SpeakerRow) -> "SpeakerOut":
        return cls(
            id=row.id,
            name=row.name,
            reference_audio=row.reference_audio,
            reference_text=row.reference_text,
            language=row.language,
            user_id=row.user_id,
            engine=row.engine,
            voice=row.voice,
            default=row.is_default,
            updated_at=aware(row.updated_at or row.created_at),
        )


class SpeakerList(BaseModel):
    speakers: list[SpeakerOut]


class LangSpeaker(BaseModel):
    id: str
    name: str


class CollectionOut(BaseModel):
    id: str
    name: str
    description: str
    user_id: str
    langs: dict[str, LangSpeaker]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CollectionRow) -> "CollectionOut":
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            user_id=row.user_id,
            langs={lang.language: LangSpeaker(id=lang.speaker.id, name=lang.speaker.name) for lang in row.langs},
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
        )


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    user_id: UserId | None = Field(
        None, description='The owner ("default": shared); required without API keys, the key\'s user with them.'
    )
    description: Description = ""
    langs: Langs = Field(default_factory=dict, description="Language code → speaker UUID (vi, en, fr, ja, ko, zh, ru).")


class CollectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    langs: Langs | None = Field(None, description="The new full map; replaces the old one.")
    user_id: UserId | None = Field(None, description="The caller (the owner); also accepted as a query parameter.")


class Deleted(BaseModel):
    status: Literal["deleted"] = "deleted"
