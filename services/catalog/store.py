"""Catalog queries and rules: who sees which speakers, who may change which collection."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from services.catalog.access import Caller
from services.catalog.builtin import BUILTIN_SPEAKERS, SHARED_USER
from services.catalog.tables import CollectionLangRow, CollectionRow, SpeakerRow
from services.common.errors import ApiError, InvalidInput, NotFound
from services.common.languages import LANGUAGES


class Forbidden(ApiError):
    status_code, code = 403, "forbidden"


class Conflict(ApiError):
    status_code, code = 409, "conflict"


def canonical_id(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no {what} {value[:64]!r} (ids are UUIDs)") from None


def visible_to(owner: InstrumentedAttribute[str], user_id: str) -> ColumnElement[bool]:
    """Shared speakers and collections, plus the user's own."""
    return or_(owner == SHARED_USER, owner == user_id)


class CatalogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_collections_per_user: int) -> None:
        self._sessions = sessions
        self.max_collections_per_user = max_collections_per_user

    async def seed_builtin_speakers(self) -> int:
        """Insert the built-in speakers that are missing and refresh the others; returns how many were added."""
        added = 0
        async with self._sessions.begin() as session:
            for speaker in BUILTIN_SPEAKERS:
                row = await session.get(SpeakerRow, speaker.id)
                if row is None:
                    now = datetime.now(UTC)
                    row = SpeakerRow(id=speaker.id, created_at=now, updated_at=now, user_id=SHARED_USER, builtin=True)
                    session.add(row)
                    added += 1
                row.name, row.language, row.engine, row.voice = (
                    speaker.name,
                    speaker.language,
                    speaker.engine,
                    speaker.voice,
                )
                row.is_default = speaker.is_default
        return added

    async def speakers(self, user_id: str, language: str | None) -> list[SpeakerRow]:
        query = select(SpeakerRow).where(visible_to(SpeakerRow.user_id, user_id))
        if language:
            query = query.where(SpeakerRow.language == language)
        query = query.order_by(SpeakerRow.language, SpeakerRow.is_default.desc(), SpeakerRow.name)
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def speaker(self, speaker_id: str, caller: Caller) -> SpeakerRow:
        async with self._sessions() as session:
            row = await session.get(SpeakerRow, canonical_id(speaker_id, "speaker"))
        if row is None or not caller.sees(row.user_id):
            raise NotFound(f"no speaker {speaker_id}")
        return row

    async def add_speaker(self, row: SpeakerRow) -> SpeakerRow:
        async with self._sessions.begin() as session:
            session.add(row)
        return row

    async def owned_speaker(self, speaker_id: str, caller: Caller) -> SpeakerRow:
        """A speaker the caller may change: not a built-in one, and their own (shared ones: admin keys)."""
        async with self._sessions() as session:
            return await self._owned_speaker(session, speaker_id, caller)

    async def new_reference(self, speaker_id: str, reference_audio: str, reference_text: str) -> SpeakerRow:
        """Record that the speaker's reference recording was replaced (its transcript with it)."""
        async with self._sessions.begin() as session:
            row = await session.get(SpeakerRow, speaker_id)
            if row is None:
                raise NotFound(f"no speaker {speaker_id}")
            row.reference_audio, row.reference_text = reference_audio, reference_text
            row.updated_at = datetime.now(UTC)
        return row

    async def delete_speaker(self, speaker_id: str, caller: Caller) -> SpeakerRow:
        """Delete a speaker the caller may change; refused while a collection routes a language to it."""
        async with self._sessions.begin() as session:
            row = await self._owned_speaker(session, speaker_id, caller, "deleted")
            users = await session.scalars(
                select(CollectionRow.name).join(CollectionLangRow).where(CollectionLangRow.speaker_id == row.id)
            )
            names = sorted(set(users.all()))
            if names:
                raise Conflict(f"speaker {row.name!r} is used by collections {names}; remap them first")
            await session.delete(row)
        return row

    async def collections(self, user_id: str) -> list[CollectionRow]:
        query = (
            select(CollectionRow)
            .where(visible_to(CollectionRow.user_id, user_id))
            .order_by(CollectionRow.created_at, CollectionRow.id)
        )
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def collection(self, collection_id: str, caller: Caller) -> CollectionRow:
        async with self._sessions() as session:
            row = await self._readable(session, collection_id, caller)
        return row

    async def create(self, name: str, description: str, user_id: str, langs: dict[str, str]) -> CollectionRow:
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            owned = await session.scalar(select(func.count()).where(CollectionRow.user_id == user_id))
            if owned >= self.max_collections_per_user:
                raise InvalidInput(f"user {user_id!r} already has {owned} collections (the limit)")
            row = CollectionRow(
                id=str(uuid.uuid4()),
                name=name,
                description=description,
                user_id=user_id,
                created_at=now,
                updated_at=now,
            )
            row.langs = await self._lang_rows(session, langs, user_id)
            session.add(row)
        return await self.collection(row.id, Caller(user_id, everyone=False))

    async def update(
        self,
        collection_id: str,
        caller: Caller,
        name: str | None,
        description: str | None,
        langs: dict[str, str] | None,
    ) -> CollectionRow:
        async with self._sessions.begin() as session:
            row = await self._owned(session, collection_id, caller)
            if name is not None:
                row.name = name
            if description is not None:
                row.description = description
            if langs is not None:
                row.langs = await self._lang_rows(session, langs, row.user_id)
            row.updated_at = datetime.now(UTC)
        return await self.collection(collection_id, caller)

    async def delete(self, collection_id: str, caller: Caller) -> None:
        async with self._sessions.begin() as session:
            await session.delete(await self._owned(session, collection_id, caller))

    async def _owned_speaker(
        self, session: AsyncSession, speaker_id: str, caller: Caller, change: str = "changed"
    ) -> SpeakerRow:
        row = await session.get(SpeakerRow, canonical_id(speaker_id, "speaker"))
        if row is None or not caller.sees(row.user_id):
            raise NotFound(f"no speaker {speaker_id} for user {caller.user_id!r}")
        if row.builtin or not caller.may_change(row.user_id):
            raise Forbidden(f"speaker {row.name!r} is built in or shared; it cannot be {change} by {caller.user_id!r}")
        return row

    async def _readable(self, session: AsyncSession, collection_id: str, caller: Caller) -> CollectionRow:
        row = await session.get(CollectionRow, canonical_id(collection_id, "collection"))
        if row is None or not caller.sees(row.user_id):
            raise NotFound(f"no collection {collection_id} for user {caller.user_id!r}")
        return row

    async def _owned(self, session: AsyncSession, collection_id: str, caller: Caller) -> CollectionRow:
        row = await self._readable(session, collection_id, caller)
        if not caller.may_change(row.user_id):
            raise Forbidden(f"collection {collection_id} belongs to {row.user_id!r}; only its owner may change it")
        return row

    async def _lang_rows(self, session: AsyncSession, langs: dict[str, str], owner: str) -> list[CollectionLangRow]:
        rows = []
        for language, speaker_id in sorted(langs.items()):
            if language not in LANGUAGES:
                raise InvalidInput(f"langs: unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
            try:
                canonical = str(uuid.UUID(speaker_id))
            except ValueError:
                raise InvalidInput(f"langs.{language}: {speaker_id[:64]!r} is not a speaker id (UUID)") from None
            speaker = await session.get(SpeakerRow, canonical)
            if speaker is None or speaker.user_id not in (SHARED_USER, owner):
                raise InvalidInput(f"langs.{language}: no speaker {speaker_id} available to {owner!r}")
            if speaker.language != language:
                raise InvalidInput(
                    f"langs.{language}: speaker {speaker.name!r} speaks {speaker.language}, not {language}"
                )
            rows.append(CollectionLangRow(language=language, speaker_id=canonical, speaker=speaker))
        return rows
