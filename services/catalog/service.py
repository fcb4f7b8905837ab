"""The catalog service object: the rules over its two kinds of state, rows in the database (CatalogStore)
and the reference recordings of voice-cloning speakers (ReferenceRecordings). Routes call it and return
what it returns; file IO runs off the event loop."""

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime

from services.catalog.access import Caller
from services.catalog.reference_audio import Recording, ReferenceRecordings
from services.catalog.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionOut,
    CollectionUpdate,
    SpeakerList,
    SpeakerOut,
)
from services.catalog.store import CatalogStore
from services.catalog.tables import SpeakerRow
from services.common.errors import InvalidInput, NotFound
from services.common.languages import LANGUAGES

CLONING_ENGINE, CLONING_VOICE = "f5tts", "clone"


class CatalogService:
    def __init__(self, store: CatalogStore, recordings: ReferenceRecordings) -> None:
        self.store = store
        self.recordings = recordings

    async def speakers(self, caller: Caller, language: str | None) -> SpeakerList:
        if language is not None and language not in LANGUAGES:
            raise InvalidInput(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
        rows = await self.store.speakers(caller.user_id, language)
        return SpeakerList(speakers=[SpeakerOut.of(row) for row in rows])

    async def speaker(self, speaker_id: str, caller: Caller) -> SpeakerOut:
        return SpeakerOut.of(await self.store.speaker(speaker_id, caller))

    async def add_cloning_speaker(
        self, name: str, language: str, user_id: str, reference_text: str, recording: bytes
    ) -> SpeakerOut:
        """A user's F5-TTS speaker: the recording is checked and stored, then the row added."""
        speaker_id = str(uuid.uuid4())
        filename = await asyncio.to_thread(self.recordings.store, recording, speaker_id)
        now = datetime.now(UTC)
        row = SpeakerRow(
            id=speaker_id,
            name=name.strip(),
            language=language,
            user_id=user_id.strip(),
            engine=CLONING_ENGINE,
            voice=CLONING_VOICE,
            reference_audio=filename,
            reference_text=reference_text.strip(),
            is_default=False,
            builtin=False,
            created_at=now,
            updated_at=now,
        )
        return SpeakerOut.of(await self._naming(filename, self.store.add_speaker(row)))

    async def replace_reference(
        self, speaker_id: str, caller: Caller, reference_text: str, recording: bytes
    ) -> SpeakerOut:
        """A new recording (and its transcript) for a cloning speaker the caller may change; `updated_at` moves.
        The new file is written beside the old one, the row then names it, and only then is the old one removed:
        a failed commit leaves the speaker as it was."""
        row = await self.store.owned_speaker(speaker_id, caller)
        if not row.reference_audio:
            raise InvalidInput(f"speaker {row.name!r} is not a voice-cloning speaker; it has no reference_audio")
        filename = await asyncio.to_thread(self.recordings.store, recording, row.id, True)
        updated = await self._naming(filename, self.store.new_reference(row.id, filename, reference_text.strip()))
        await asyncio.to_thread(self.recordings.delete, row.reference_audio)
        return SpeakerOut.of(updated)

    async def _naming(self, filename: str, commit: Awaitable[SpeakerRow]) -> SpeakerRow:
        """The row `commit` stores, which names the recording `filename`; the file is removed if it fails."""
        try:
            return await commit
        except BaseException:
            await asyncio.to_thread(self.recordings.delete, filename)
            raise

    async def delete_speaker(self, speaker_id: str, caller: Caller) -> None:
        row = await self.store.delete_speaker(speaker_id, caller)
        if row.reference_audio:
            await asyncio.to_thread(self.recordings.delete, row.reference_audio)

    async def reference_recording(self, speaker_id: str, caller: Caller) -> tuple[SpeakerOut, Recording]:
        """The speaker's reference recording (404 for a speaker without one, such as every built-in)."""
        row = await self.store.speaker(speaker_id, caller)
        if not row.reference_audio:
            raise NotFound(f"speaker {row.id} has no reference recording")
        return SpeakerOut.of(row), await asyncio.to_thread(self.recordings.read, row.reference_audio)

    async def collections(self, caller: Caller) -> CollectionList:
        rows = await self.store.collections(caller.user_id)
        return CollectionList(collections=[CollectionOut.of(row) for row in rows])

    async def collection(self, collection_id: str, caller: Caller) -> CollectionOut:
        return CollectionOut.of(await self.store.collection(collection_id, caller))

    async def create_collection(self, body: CollectionCreate, owner: str) -> CollectionOut:
        return CollectionOut.of(await self.store.create(body.name, body.description, owner, body.langs))

    async def update_collection(self, collection_id: str, body: CollectionUpdate, caller: Caller) -> CollectionOut:
        row = await self.store.update(collection_id, caller, body.name, body.description, body.langs)
        return CollectionOut.of(row)

    async def delete_collection(self, collection_id: str, caller: Caller) -> None:
        await self.store.delete(collection_id, caller)
