"""The fleet's API keys in the catalog's database: made, verified, listed and revoked here.

A key is `vf_<id>_<secret>`: `id` is 12 public characters (the row's primary key, shown in listings and used
to revoke), `secret` 32 random bytes (`secrets.token_urlsafe(32)`, 43 characters). Only the SHA-256 of the
whole key is stored and compared in constant time: a slow password hash defends guessable secrets, and a
256-bit random one cannot be guessed however fast the hash (docs/SECURITY.md)."""

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.catalog.tables import ApiKeyRow
from services.common.auth import Identity, key_id
from services.common.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

LAST_USED_EVERY = timedelta(minutes=1)  # `last_used` is written at most this often per key
ADMIN_USER = "admin"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return f"vf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def scope_set(row: ApiKeyRow) -> frozenset[str]:
    return frozenset(row.scopes.split(","))


class KeyStore:
    """Also the catalog's own key verifier (services.common.auth.KeyVerifier), in process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, user_id: str, scopes: frozenset[str]) -> tuple[str, ApiKeyRow]:
        """A new key for `user_id`: the key itself (shown once, never stored) and its row."""
        key = new_key()
        return key, await self._insert(key, user_id.strip(), scopes)

    async def ensure(self, key: str, user_id: str, scopes: frozenset[str]) -> bool:
        """Store a configured key (ADMIN_API_KEY) unless it is there; True when it was added. A revoked one
        stays revoked."""
        public_id = key_id(key)
        if public_id is None:
            raise InvalidInput("the key is not of the form vf_<12 lower-case letters or digits>_<43 characters>")
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, public_id)
        if row is None:
            await self._insert(key, user_id, scopes)
            return True
        if not hmac.compare_digest(row.hash, key_hash(key)):
            raise InvalidInput(f"another key already has the id {public_id}; configure a new key")
        if row.revoked_at is not None:
            logger.warning("the configured key %s was revoked and stays so; configure a new one", public_id)
        return False

    async def _insert(self, key: str, user_id: str, scopes: frozenset[str]) -> ApiKeyRow:
        if not user_id or len(user_id) > 200:
            raise InvalidInput("user_id must be 1-200 characters")
        row = ApiKeyRow(
            id=key_id(key),
            user_id=user_id,
            scopes=",".join(sorted(scopes)),
            hash=key_hash(key),
            created_at=datetime.now(UTC),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return row

    async def verify(self, key: str) -> Identity | None:
        """The key's identity, None for a malformed, unknown or revoked key; notes its use (once a minute)."""
        public_id = key_id(key)
        if public_id is None:
            return None
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, public_id)
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.hash, key_hash(key)):
                return None
            last_used = aware(row.last_used)
            if last_used is None or now - last_used >= LAST_USED_EVERY:
                row.last_used = now
        return Identity(user_id=row.user_id, scopes=scope_set(row), key=key, authenticated=True)

    async def close(self) -> None:
        """Nothing to close: the engine is the catalog's."""

    async def keys(self, user_id: str | None = None) -> list[ApiKeyRow]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        async with self._sessions() as session:
            return list((await session.scalars(query)).all())

    async def revoke(self, public_id: str) -> ApiKeyRow:
        """Revoke a key by its id (again: no change); it is refused from then on."""
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, public_id)
            if row is None:
                raise NotFound(f"no API key {public_id[:64]!r}")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
        return row
