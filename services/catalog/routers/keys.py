"""/api/keys: API keys, for admin keys only (a key is shown once, when made); /internal/auth/verify: the
check every other service asks (fleet only: the gateway does not route it)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StringConstraints, field_validator

from services.catalog.key_store import KeyStore, aware, scope_set
from services.catalog.tables import ApiKeyRow
from services.common.auth import SCOPES, IdentityDep, parse_scopes
from services.common.auth import key_id as public_id
from services.common.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/api/keys", tags=["keys"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys


KeysDep = Annotated[KeyStore, Depends(get_keys)]


def require_admin(identity: IdentityDep) -> None:
    if not identity.is_admin:
        raise Forbidden("managing API keys needs a key with the admin scope")


class KeyCreate(BaseModel):
    user_id: UserId
    scopes: list[str] = Field(
        min_length=1, description=f"`all` (every service, not admin) or any of {', '.join(SCOPES)}."
    )

    @field_validator("scopes")
    @classmethod
    def known_scopes(cls, scopes: list[str]) -> list[str]:
        return sorted(parse_scopes(",".join(scopes)))


class KeyOut(BaseModel):
    id: str = Field(description="The key's public id (the part after `vf_`); revoke with it.")
    user_id: str
    scopes: list[str]
    created_at: datetime
    last_used: datetime | None = Field(description="Last verified use, to the minute; null: never used.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> "KeyOut":
        return cls(
            id=row.id,
            user_id=row.user_id,
            scopes=sorted(scope_set(row)),
            created_at=aware(row.created_at),
            last_used=aware(row.last_used),
            revoked_at=aware(row.revoked_at),
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class KeyList(BaseModel):
    keys: list[KeyOut]


class VerifyRequest(BaseModel):
    key: str = Field(max_length=200)


class Verified(BaseModel):
    key_id: str
    user_id: str
    scopes: list[str]


AdminOnly = [Depends(require_admin)]
NOT_ADMIN = {403: {"description": "The key has no admin scope."}}


@router.post(
    "", response_model=KeyCreated, dependencies=AdminOnly, responses=NOT_ADMIN, summary="Make a key (shown once)"
)
async def create_key(keys: KeysDep, body: KeyCreate) -> KeyCreated:
    key, row = await keys.create(body.user_id, frozenset(body.scopes))
    return KeyCreated(**KeyOut.of(row).model_dump(), key=key)


@router.get(
    "", response_model=KeyList, dependencies=AdminOnly, responses=NOT_ADMIN, summary="Every key, without secrets"
)
async def list_keys(keys: KeysDep, user_id: Annotated[str | None, Query(max_length=200)] = None) -> KeyList:
    return KeyList(keys=[KeyOut.of(row) for row in await keys.keys(user_id)])


@router.delete(
    "/{key_id}",
    response_model=KeyOut,
    dependencies=AdminOnly,
    responses={**NOT_ADMIN, 404: {"description": "No key has this id."}},
    summary="Revoke a key (again: no change)",
)
async def revoke_key(keys: KeysDep, key_id: str) -> KeyOut:
    return KeyOut.of(await keys.revoke(key_id))


@internal.post(
    "/auth/verify",
    response_model=Verified,
    responses={401: {"description": "The key is malformed, unknown or revoked."}},
    summary="Whose key this is (fleet only)",
)
async def verify_key(keys: KeysDep, body: VerifyRequest) -> Verified:
    """401 for a key that is malformed, unknown or revoked."""
    identity = await keys.verify(body.key)
    if identity is None:
        raise Unauthorized("the API key is not valid (unknown, malformed or revoked)")
    return Verified(key_id=public_id(body.key), user_id=identity.user_id, scopes=sorted(identity.scopes))
