"""Audio kept on disk: registration references and (optionally) verified files, as 16 kHz mono WAV.

Names are server-made UUIDs under fixed folders; a client's file name never becomes a path."""

import logging
import time
import wave
from pathlib import Path

import numpy as np

from services.common.audio import write_wav
from services.voice.speech import RATE

logger = logging.getLogger(__name__)

SPEAKERS = "speakers"
VERIFICATIONS = "verifications"


class AudioStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in (SPEAKERS, VERIFICATIONS):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def write(self, folder: str, name: str, audio: np.ndarray) -> str:
        """Write `audio` as `<folder>/<name>.wav` (atomically) and return that relative path."""
        relative = f"{folder}/{name}.wav"
        write_wav(self.root / relative, audio, RATE)
        return relative

    def read(self, relative: str) -> np.ndarray:
        with wave.open(str(self.root / relative), "rb") as source:
            frames = source.readframes(source.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0

    def remove(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    def prune(self, folder: str, older_than_s: float) -> int:
        """Delete files in `folder` older than `older_than_s`; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in (self.root / folder).iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.info("removed %d files older than %.0f h from %s", removed, older_than_s / 3600, folder)
        return removed
