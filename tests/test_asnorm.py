"""AS-Norm arithmetic and the shipped cohort's provenance."""

import csv

import numpy as np
import pytest

from services.voice.cohort import SHIPPED
from services.voice.scoring import AsNorm
from tests.voice import trials


def test_asnorm_standardises_against_each_sides_closest_cohort_scores() -> None:
    rng = np.random.default_rng(1)
    cohort = rng.normal(size=(40, 16))
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    enrolled, test = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 16)))
    score, raw = AsNorm(cohort, top_n=10).score(enrolled, test)

    def side(v: np.ndarray) -> tuple[float, float]:
        top = np.sort(cohort @ v)[-10:]
        return top.mean(), top.std()

    (me, se), (mt, st) = side(enrolled), side(test)
    assert raw == pytest.approx(float(enrolled @ test), abs=1e-6)
    assert score == pytest.approx(((raw - me) / se + (raw - mt) / st) / 2, abs=1e-4)
    assert AsNorm(cohort, top_n=500).top_n == 40  # capped at the cohort size


def test_asnorm_needs_a_cohort() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        AsNorm(np.ones((1, 8)), top_n=5)


def test_shipped_cohort_has_no_trial_speaker_and_a_source_for_every_row() -> None:
    cohort = np.load(SHIPPED / "resemblyzer.npy")
    with (SHIPPED / "resemblyzer.sources.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert cohort.shape == (len(rows), 256)
    assert np.allclose(np.linalg.norm(cohort, axis=1), 1, atol=1e-4)
    trial_files = {t[k].split("/")[-1] for t in trials() for k in ("enroll", "test")}
    trial_speakers = {name.split("_")[2] for name in trial_files}
    for row in rows:
        assert not row["source"].startswith("speaker/"), row
        assert not any(f"_{s}_" in row["source"] or f"/{s}" in row["source"] for s in trial_speakers), row
        assert row["license"], row
