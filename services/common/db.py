"""Database access shared by the services: SQLAlchemy 2 async on a SQLite file by default, or
PostgreSQL through asyncpg when `DATABASE_URL` says so, with Alembic migrations run at start-up."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from services.common.errors import InvalidInput

logger = logging.getLogger(__name__)

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_database_url(url: str | None, default_sqlite: Path) -> str:
    """The SQLAlchemy async URL for `url`, or a SQLite file at `default_sqlite` when none is given.

    Accepts plain `postgresql://` / `postgres://` / `sqlite:///` URLs and picks the async driver.
    """
    if not url:
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{default_sqlite.resolve()}"
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a sqlite or postgresql URL, not {backend!r}")
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    if backend == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    event.listen(engine.sync_engine, "handle_error", _text_postgres_refuses)
    return engine


# SQLSTATEs of text PostgreSQL cannot hold: a NUL character (22021), one the encoding lacks (22P05).
UNSTORABLE_TEXT = {"22021", "22P05"}


def _text_postgres_refuses(context: ExceptionContext) -> None:
    """A request's text with a NUL character is the client's mistake, a 422, not the database's 500."""
    if getattr(context.original_exception, "sqlstate", None) in UNSTORABLE_TEXT:
        raise InvalidInput("text must not contain NUL (\\x00) characters") from context.original_exception


def _sqlite_pragmas(connection: object, _: object) -> None:
    """SQLite leaves foreign keys off unless asked, per connection; WAL lets readers run during a write."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def migrate(engine: AsyncEngine, migrations: Path, version_table: str) -> None:
    """Bring the schema to the newest Alembic revision in `migrations`.

    Each service keeps its own version table, so several services can share one database.
    On PostgreSQL an advisory lock serialises replicas that start at the same time.
    """

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table})
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = version_table
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)
    logger.info("database schema is current (%s)", version_table)


def run_alembic_env() -> None:
    """The body of every service's `migrations/env.py`: migrate on the connection `migrate` passes in."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise SystemExit("migrations run when the service starts (services.common.db.migrate), not from the CLI")
    context.configure(connection=connection, version_table=context.config.attributes["version_table"])
    with context.begin_transaction():
        context.run_migrations()
