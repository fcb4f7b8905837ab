"""Shared helpers for the voice tests: the speaker trials and a fresh PostgreSQL database."""

import asyncio
import csv
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from tests.conftest import DATA

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def trials() -> list[dict[str, str]]:
    with (DATA / "speaker" / "trials.tsv").open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def speaker_of(path: str) -> str:
    return Path(path).name.split("_")[2]


def clip(relative: str) -> tuple[str, bytes]:
    return Path(relative).name, (DATA / relative).read_bytes()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the local PostgreSQL, dropped afterwards; yields its URL."""
    name = f"voicefleet_test_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(f"{POSTGRES}/test")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
