"""Shared helpers for the voice tests: the speaker trials and their clips."""

import csv
from pathlib import Path

from tests.conftest import DATA


def trials() -> list[dict[str, str]]:
    with (DATA / "speaker" / "trials.tsv").open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def speaker_of(path: str) -> str:
    return Path(path).name.split("_")[2]


def clip(relative: str) -> tuple[str, bytes]:
    return Path(relative).name, (DATA / relative).read_bytes()
