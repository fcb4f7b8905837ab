"""The interface every speaker embedding model implements."""

from typing import Protocol

import numpy as np


class SpeakerEncoder(Protocol):
    model_id: str  # stored with each voice print: prints of another model are re-embedded, never compared
    dim: int

    def embed(self, speech: np.ndarray) -> np.ndarray:
        """L2-normalised embedding of 16 kHz mono speech (silence already trimmed)."""
        ...


def unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ValueError("the speaker model returned a zero embedding")
    return vector / norm
