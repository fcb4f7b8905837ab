"""/api/collections: named maps of language → speaker, owned by a user."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.catalog.access import creator, reader, writer
from services.catalog.dependencies import CatalogDep
from services.catalog.schemas import CollectionCreate, CollectionList, CollectionOut, CollectionUpdate, Deleted
from services.common.auth import IdentityDep
from services.common.errors import InvalidInput

router = APIRouter(prefix="/api/collections", tags=["collections"])
internal = APIRouter(prefix="/internal", tags=["internal"])

UserQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The caller; shared collections belong to `default`. With API keys the key says who the "
        "caller is, and this may only name its own user (or `default` for reading; any user: admin keys).",
    ),
]


@router.get("", response_model=CollectionList, summary="Shared collections plus the user's own")
async def list_collections(catalog: CatalogDep, identity: IdentityDep, user_id: UserQuery = None) -> CollectionList:
    return await catalog.collections(reader(identity, user_id))


@router.post("", response_model=CollectionOut, summary="Create a collection")
async def create_collection(catalog: CatalogDep, identity: IdentityDep, body: CollectionCreate) -> CollectionOut:
    return await catalog.create_collection(body, creator(identity, body.user_id))


@internal.get("/collections/{collection_id}", response_model=CollectionOut, summary="A collection by id (fleet only)")
async def internal_collection(catalog: CatalogDep, identity: IdentityDep, collection_id: str) -> CollectionOut:
    """For the TTS and voice-chat services, which call it with their caller's key: a collection id in a
    synthesis request is enough to use it, if the caller may see it. Not routed by the gateway."""
    return await catalog.collection(collection_id, reader(identity, None))


@router.get("/{collection_id}", response_model=CollectionOut, summary="One collection")
async def get_collection(
    catalog: CatalogDep, identity: IdentityDep, collection_id: str, user_id: UserQuery = None
) -> CollectionOut:
    return await catalog.collection(collection_id, reader(identity, user_id))


@router.put("/{collection_id}", response_model=CollectionOut, summary="Rename, describe or remap a collection")
async def update_collection(
    catalog: CatalogDep, identity: IdentityDep, collection_id: str, body: CollectionUpdate, user_id: UserQuery = None
) -> CollectionOut:
    """The caller is the body's `user_id`, else the query's (the two may not differ); with neither and no
    API keys, the collection is found by its id alone."""
    if user_id and body.user_id and user_id != body.user_id:
        raise InvalidInput("user_id differs between the query and the body")
    return await catalog.update_collection(collection_id, body, writer(identity, body.user_id or user_id))


@router.delete("/{collection_id}", response_model=Deleted, summary="Delete a collection")
async def delete_collection(
    catalog: CatalogDep, identity: IdentityDep, collection_id: str, user_id: UserQuery = None
) -> Deleted:
    await catalog.delete_collection(collection_id, writer(identity, user_id))
    return Deleted()
