"""Verification scores: cosine similarity, then adaptive symmetric normalisation (AS-Norm).

AS-Norm (Matejka et al., 2017): each side of a trial is compared with a cohort of other speakers'
embeddings; only the N cohort scores closest to that side count. The raw score is standardised
against each side's top-N statistics and the two are averaged:

    score = ((s - mean_e) / std_e + (s - mean_t) / std_t) / 2

so a score reads as "standard deviations above how similar this voice is to strangers".
"""

from dataclasses import dataclass

import numpy as np

MIN_STD = 1e-4  # a degenerate cohort must not divide by zero


@dataclass(frozen=True)
class CohortStats:
    mean: float
    std: float


class AsNorm:
    def __init__(self, cohort: np.ndarray, top_n: int) -> None:
        if cohort.ndim != 2 or cohort.shape[0] < 2:
            raise ValueError(f"the AS-Norm cohort needs at least 2 embeddings, got shape {cohort.shape}")
        norms = np.linalg.norm(cohort, axis=1, keepdims=True)
        self.cohort = (cohort / np.maximum(norms, 1e-12)).astype(np.float32)
        self.top_n = min(top_n, cohort.shape[0])

    @property
    def dim(self) -> int:
        return self.cohort.shape[1]

    def stats(self, embedding: np.ndarray) -> CohortStats:
        scores = self.cohort @ embedding
        top = np.partition(scores, -self.top_n)[-self.top_n :]
        return CohortStats(float(top.mean()), max(float(top.std()), MIN_STD))

    def score(self, enrolled: np.ndarray, test: np.ndarray) -> tuple[float, float]:
        """(AS-Norm score, raw cosine) of two unit embeddings."""
        raw = float(enrolled @ test)
        e, t = self.stats(enrolled), self.stats(test)
        return 0.5 * ((raw - e.mean) / e.std + (raw - t.mean) / t.std), raw
