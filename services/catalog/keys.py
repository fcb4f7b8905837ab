"""API keys from the command line, on the catalog's database (the catalog service's settings: DATABASE_URL,
DATA_DIR, from the environment or `.env`):

    python -m services.catalog.keys create-key --user alice --scopes all      # or --scopes asr,tts / admin
    python -m services.catalog.keys list-keys [--user alice]
    python -m services.catalog.keys revoke-key <id>

`create-key` prints the key once; only its hash is stored. Services that cache keys (AUTH_CACHE_S) refuse a
revoked one within that time; the catalog at once."""

import argparse
import asyncio
import sys
from pathlib import Path

from services.catalog.key_store import KeyStore
from services.catalog.routers.keys import KeyOut
from services.catalog.settings import CatalogSettings
from services.common.auth import SCOPES, parse_scopes
from services.common.db import async_database_url, create_engine, migrate, session_factory
from services.common.errors import ApiError

MIGRATIONS = Path(__file__).parent / "migrations"


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m services.catalog.keys", description="Manage the fleet's API keys.")
    commands = cli.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="make a key (printed once)")
    create.add_argument("--user", required=True, help="the user the key acts for")
    create.add_argument(
        "--scopes", required=True, help=f"`all` (every service, not admin) or a comma list of {', '.join(SCOPES)}"
    )
    listing = commands.add_parser("list-keys", help="every key, without secrets")
    listing.add_argument("--user", help="only this user's keys")
    revoke = commands.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("id", help="the key's public id (the part after `vf_`)")
    return cli


def describe(key: KeyOut) -> str:
    used = key.last_used.isoformat(timespec="seconds") if key.last_used else "never used"
    state = f"revoked {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else "active"
    return f"{key.id}  user={key.user_id}  scopes={','.join(key.scopes)}  {state}  last used: {used}"


async def run(args: argparse.Namespace, settings: CatalogSettings) -> str:
    engine = create_engine(async_database_url(settings.database_url, settings.catalog_dir / "catalog.db"))
    try:
        await migrate(engine, MIGRATIONS, "catalog_alembic_version")
        keys = KeyStore(session_factory(engine))
        if args.command == "create-key":
            key, row = await keys.create(args.user, parse_scopes(args.scopes))
            return f"{key}\n(shown once; id {row.id}, user {row.user_id}, scopes {row.scopes})"
        if args.command == "revoke-key":
            return f"revoked: {describe(KeyOut.of(await keys.revoke(args.id)))}"
        return "\n".join(describe(KeyOut.of(row)) for row in await keys.keys(args.user)) or "no keys"
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(asyncio.run(run(args, CatalogSettings())))
    except (ValueError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
