"""/api/collections: named maps of language → speaker, owned by a user."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.catalog.dependencies import StoreDep
from services.catalog.schemas import CollectionCreate, CollectionList, CollectionOut, CollectionUpdate, Deleted
from services.common.errors import InvalidInput

router = APIRouter(prefix="/api/collections", tags=["collections"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserQuery = Annotated[
    str, Query(min_length=1, max_length=200, description="The caller; shared collections belong to `default`.")
]


@router.get("", response_model=CollectionList, summary="Shared collections plus the user's own")
async def list_collections(store: StoreDep, user_id: UserQuery = "default") -> CollectionList:
    return CollectionList(collections=[CollectionOut.of(row) for row in await store.collections(user_id)])


@router.post("", response_model=CollectionOut, summary="Create a collection")
async def create_collection(store: StoreDep, body: CollectionCreate) -> CollectionOut:
    row = await store.create(body.name, body.description, body.user_id, body.langs)
    return CollectionOut.of(row)


@internal.get("/collections/{collection_id}", response_model=CollectionOut, summary="Any collection by id (fleet only)")
async def internal_collection(store: StoreDep, collection_id: str) -> CollectionOut:
    """For the TTS and voice-chat services: a collection id in a synthesis request is enough to use it.
    Not routed by the gateway (only `/api/...` is public)."""
    return CollectionOut.of(await store.collection_by_id(collection_id))


@router.get("/{collection_id}", response_model=CollectionOut, summary="One collection")
async def get_collection(store: StoreDep, collection_id: str, user_id: UserQuery = "default") -> CollectionOut:
    return CollectionOut.of(await store.collection(collection_id, user_id))


@router.put("/{collection_id}", response_model=CollectionOut, summary="Rename, describe or remap a collection")
async def update_collection(
    store: StoreDep, collection_id: str, body: CollectionUpdate, user_id: Annotated[str | None, Query()] = None
) -> CollectionOut:
    if user_id and body.user_id and user_id != body.user_id:
        raise InvalidInput("user_id differs between the query and the body")
    caller = body.user_id or user_id or "default"
    row = await store.update(collection_id, caller, body.name, body.description, body.langs)
    return CollectionOut.of(row)


@router.delete("/{collection_id}", response_model=Deleted, summary="Delete a collection")
async def delete_collection(store: StoreDep, collection_id: str, user_id: UserQuery = "default") -> Deleted:
    await store.delete(collection_id, user_id)
    return Deleted()
