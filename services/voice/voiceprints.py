"""Voice prints in the database: the embedding, who it belongs to (`owner`: the API key's user that
registered it; `default` for shared prints and with keys off), and which model made it."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, Text, delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class VoicePrintRow(Base):
    __tablename__ = "voice_prints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    dim: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(200))
    reference_path: Mapped[str] = mapped_column(String(100))
    speech_seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    owner: Mapped[str] = mapped_column(String(200), index=True, server_default="default")


@dataclass(frozen=True)
class VoicePrint:
    id: str
    name: str
    description: str
    embedding: np.ndarray
    model_id: str
    reference_path: str
    speech_seconds: float
    created_at: datetime
    owner: str

    @classmethod
    def from_row(cls, row: VoicePrintRow) -> "VoicePrint":
        embedding = np.frombuffer(row.embedding, dtype=np.float32).copy()
        if embedding.size != row.dim:
            raise ValueError(f"voice print {row.id} is corrupt: {embedding.size} values, expected {row.dim}")
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(
            row.id,
            row.name,
            row.description,
            embedding,
            row.model_id,
            row.reference_path,
            row.speech_seconds,
            created,
            row.owner,
        )


def new_speaker_id() -> str:
    return str(uuid.uuid4())


def parse_speaker_id(value: str) -> str | None:
    """The canonical form of a speaker id, or None when `value` is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class VoicePrintStore:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def add(self, print_: VoicePrint) -> None:
        async with self._sessions.begin() as session:
            session.add(
                VoicePrintRow(
                    id=print_.id,
                    name=print_.name,
                    description=print_.description,
                    embedding=print_.embedding.astype(np.float32).tobytes(),
                    dim=int(print_.embedding.size),
                    model_id=print_.model_id,
                    reference_path=print_.reference_path,
                    speech_seconds=print_.speech_seconds,
                    created_at=print_.created_at,
                    owner=print_.owner,
                )
            )

    async def get(self, speaker_id: str) -> VoicePrint | None:
        async with self._sessions() as session:
            row = await session.get(VoicePrintRow, speaker_id)
            return VoicePrint.from_row(row) if row else None

    async def list(self, owners: tuple[str, ...] | None, limit: int, offset: int) -> list[VoicePrint]:
        """The prints of `owners` (None: everyone's), oldest first."""
        query = select(VoicePrintRow).order_by(VoicePrintRow.created_at, VoicePrintRow.id).limit(limit).offset(offset)
        if owners is not None:
            query = query.where(VoicePrintRow.owner.in_(owners))
        async with self._sessions() as session:
            return [VoicePrint.from_row(row) for row in (await session.scalars(query)).all()]

    async def replace_embedding(self, speaker_id: str, embedding: np.ndarray, model_id: str) -> None:
        """Store a re-computed embedding (after SPEAKER_MODEL changed)."""
        async with self._sessions.begin() as session:
            row = await session.get(VoicePrintRow, speaker_id)
            if row is not None:
                row.embedding = embedding.astype(np.float32).tobytes()
                row.dim = int(embedding.size)
                row.model_id = model_id

    async def delete(self, speaker_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(VoicePrintRow).where(VoicePrintRow.id == speaker_id))
            return result.rowcount > 0
