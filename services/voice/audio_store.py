"""Audio kept on disk: registration references and (optionally) verified files, as 16 kHz mono WAV.

Names are server-made UUIDs under fixed folders; a client's file name never becomes a path. Files are
written atomically and durably before the row that names them commits, and removed after the row's delete
commits (services/common/durable.py); `reconcile_with_rows` runs at start and removes what a crash between
the two steps left."""

import asyncio
import logging
import time
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.audio import write_wav
from services.common.durable import PARTIAL, Reconciled, reconcile, remove_durably
from services.voice.speech import RATE
from services.voice.voiceprints import VoicePrintRow

logger = logging.getLogger(__name__)

SPEAKERS = "speakers"
VERIFICATIONS = "verifications"


class AudioStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in (SPEAKERS, VERIFICATIONS):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def write(self, folder: str, name: str, audio: np.ndarray) -> str:
        """Write `audio` as `<folder>/<name>.wav` (atomically and durably) and return that relative path."""
        relative = f"{folder}/{name}.wav"
        write_wav(self.root / relative, audio, RATE)
        return relative

    def read(self, relative: str) -> np.ndarray:
        with wave.open(str(self.root / relative), "rb") as source:
            frames = source.readframes(source.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0

    def remove(self, relative: str) -> None:
        remove_durably(self.root / relative)

    def prune(self, folder: str, older_than_s: float) -> int:
        """Delete files in `folder` older than `older_than_s`; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in (self.root / folder).iterdir():
            try:
                old = path.stat().st_mtime < cutoff
            except FileNotFoundError:  # a partial write renamed meanwhile
                continue
            if old:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.info("removed %d files older than %.0f h from %s", removed, older_than_s / 3600, folder)
        return removed

    def reconcile(self, reference_paths: Iterable[str]) -> Reconciled:
        """Remove registration references no voice print names and abandoned partial writes (in both
        folders; verified files have no rows, `prune` ages them out); report prints whose file is missing."""
        names = [Path(path).name for path in reference_paths if Path(path).parent == Path(SPEAKERS)]
        found = reconcile(self.root / SPEAKERS, names, ".wav")
        found.removed += reconcile(self.root / VERIFICATIONS, (), PARTIAL).removed
        return found


async def reconcile_with_rows(files: AudioStore, engine: AsyncEngine) -> Reconciled:
    """`files.reconcile` against every voice print's reference path (read first, then the folder)."""
    async with engine.connect() as connection:
        paths = (await connection.scalars(select(VoicePrintRow.reference_path))).all()
    return await asyncio.to_thread(files.reconcile, paths)
