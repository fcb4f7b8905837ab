"""Reference recordings of voice-cloning speakers: decoded, checked, stored as 24 kHz mono WAV under a
server-made name (`<speaker_id>[.<random>].wav`; the client's file name never becomes a path) in the catalog's own
directory, and read back for `GET /internal/speakers/{id}/reference-audio` (tts asks for them over HTTP).

Written durably before the row that names them commits, removed after the row's delete commits
(services/common/durable.py); `reconcile_with_rows` runs at start and removes what a crash between the two
steps left."""

import asyncio
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalog.tables import SpeakerRow
from services.common.audio import decode_audio, write_wav
from services.common.durable import Reconciled, reconcile, remove_durably
from services.common.errors import InvalidInput, NotFound

RATE = 24_000


@dataclass(frozen=True)
class Recording:
    wav: bytes

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.wav).hexdigest()[:32] + '"'


class ReferenceRecordings:
    """The directory of recordings; every method does file IO (call it off the event loop)."""

    def __init__(self, directory: Path, min_s: float, max_s: float) -> None:
        self.directory = directory
        self.min_s = min_s
        self.max_s = max_s

    def store(self, data: bytes, speaker_id: str, replacing: bool = False) -> str:
        """Check the upload and write it, durably, under a name no file has had: `<speaker_id>.wav` for a new
        speaker, `<speaker_id>.<random>.wav` for a replacement (the recording it replaces stays until the row
        names the new one). Returns the file name."""
        audio = decode_audio(data, sample_rate=RATE, max_duration_s=self.max_s)
        seconds = audio.size / RATE
        if seconds < self.min_s:
            raise InvalidInput(f"reference_audio is {seconds:.1f} s; at least {self.min_s} s is needed")
        if float(np.sqrt(np.mean(audio**2))) < 1e-3:
            raise InvalidInput("reference_audio is silent")
        self.directory.mkdir(parents=True, exist_ok=True)
        filename = f"{speaker_id}.{uuid.uuid4().hex[:12]}.wav" if replacing else f"{speaker_id}.wav"
        write_wav(self.directory / filename, audio, RATE)
        return filename

    def read(self, filename: str) -> Recording:
        try:
            return Recording(self._path(filename).read_bytes())
        except FileNotFoundError:
            raise NotFound(f"the reference recording {filename} is missing") from None

    def delete(self, filename: str) -> None:
        remove_durably(self._path(filename))

    def reconcile(self, named: Iterable[str]) -> Reconciled:
        """Remove recordings no speaker names (and abandoned writes); report speakers whose file is missing."""
        return reconcile(self.directory, named, ".wav")

    def _path(self, filename: str) -> Path:
        """`filename` comes from the database, where only `store` puts names; checked all the same."""
        if Path(filename).name != filename or not filename.endswith(".wav"):
            raise NotFound(f"no reference recording {filename!r}")
        return self.directory / filename


async def reconcile_with_rows(recordings: ReferenceRecordings, engine: AsyncEngine) -> Reconciled:
    """`recordings.reconcile` against every speaker's `reference_audio` (read first, then the directory)."""
    query = select(SpeakerRow.reference_audio).where(SpeakerRow.reference_audio.is_not(None))
    async with engine.connect() as connection:
        named = (await connection.scalars(query)).all()
    return await asyncio.to_thread(recordings.reconcile, named)
