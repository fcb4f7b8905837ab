"""What every diarization backend returns, and how callers ask for a speaker count."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class SpeakerTurn:
    start: float  # seconds
    end: float
    speaker: int  # 0-based, in order of first appearance


@dataclass(frozen=True)
class SpeakerCount:
    exact: int | None = None
    minimum: int = 1
    maximum: int = 8


class Diarizer(Protocol):
    name: str

    def diarize(self, audio: np.ndarray, count: SpeakerCount) -> list[SpeakerTurn]:
        """16 kHz mono float32 → speaker turns sorted by start (may overlap for some backends)."""
        ...


def renumber_by_first_appearance(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    order: dict[int, int] = {}
    for turn in sorted(turns, key=lambda t: t.start):
        order.setdefault(turn.speaker, len(order))
    return sorted((SpeakerTurn(t.start, t.end, order[t.speaker]) for t in turns), key=lambda t: (t.start, t.end))
