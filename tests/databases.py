"""The two databases a service can run on: its SQLite default, and a fresh PostgreSQL database on
the local server (created for the test, dropped afterwards)."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import asyncpg
import pytest

POSTGRES = "postgresql://postgres@127.0.0.1:5432"


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


@pytest.fixture(params=["sqlite", "postgres"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment for a service process: nothing (SQLite) or DATABASE_URL of a fresh Postgres database."""
    database = fresh_postgres_database() if request.param == "postgres" else nullcontext(None)
    with database as url:
        yield {"DATABASE_URL": url} if url else {}
