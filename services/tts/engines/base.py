"""The interface every TTS engine implements, and what it is asked to say."""

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Voice:
    """What the catalog says about a speaker, as much as an engine needs."""

    engine: str
    voice: str
    language: str
    reference_audio: str | None = None  # the catalog's name of the recording, for messages
    reference_text: str | None = None
    reference_wav: bytes | None = field(default=None, repr=False)  # the recording, fetched from the catalog


class TtsEngine(Protocol):
    name: str
    languages: frozenset[str]
    sample_rate: int  # native rate; the service resamples to 24 kHz

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        """Float32 mono samples in [-1, 1] at `sample_rate` for one sentence (called off the event loop)."""
        ...


class EngineError(RuntimeError):
    """The engine cannot say this (a voice it lacks, a failed subprocess); the message is for the client."""
