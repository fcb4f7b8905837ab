"""/api/collections: named maps of language → speaker, owned by a user."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.catalog.dependencies import CatalogDep
from services.catalog.schemas import CollectionCreate, CollectionList, CollectionOut, CollectionUpdate, Deleted

router = APIRouter(prefix="/api/collections", tags=["collections"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserQuery = Annotated[
    str, Query(min_length=1, max_length=200, description="The caller; shared collections belong to `default`.")
]


@router.get("", response_model=CollectionList, summary="Shared collections plus the user's own")
async def list_collections(catalog: CatalogDep, user_id: UserQuery = "default") -> CollectionList:
    return await catalog.collections(user_id)


@router.post("", response_model=CollectionOut, summary="Create a collection")
async def create_collection(catalog: CatalogDep, body: CollectionCreate) -> CollectionOut:
    return await catalog.create_collection(body)


@internal.get("/collections/{collection_id}", response_model=CollectionOut, summary="Any collection by id (fleet only)")
async def internal_collection(catalog: CatalogDep, collection_id: str) -> CollectionOut:
    """For the TTS and voice-chat services: a collection id in a synthesis request is enough to use it.
    Not routed by the gateway (only `/api/...` is public)."""
    return await catalog.collection_for_fleet(collection_id)


@router.get("/{collection_id}", response_model=CollectionOut, summary="One collection")
async def get_collection(catalog: CatalogDep, collection_id: str, user_id: UserQuery = "default") -> CollectionOut:
    return await catalog.collection(collection_id, user_id)


@router.put("/{collection_id}", response_model=CollectionOut, summary="Rename, describe or remap a collection")
async def update_collection(
    catalog: CatalogDep, collection_id: str, body: CollectionUpdate, user_id: Annotated[str | None, Query()] = None
) -> CollectionOut:
    return await catalog.update_collection(collection_id, body, user_id)


@router.delete("/{collection_id}", response_model=Deleted, summary="Delete a collection")
async def delete_collection(catalog: CatalogDep, collection_id: str, user_id: UserQuery = "default") -> Deleted:
    await catalog.delete_collection(collection_id, user_id)
    return Deleted()
