"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from services.catalog.settings import CatalogSettings
from services.catalog.store import CatalogStore


@lru_cache
def get_settings() -> CatalogSettings:
    return CatalogSettings()


def get_store(request: Request) -> CatalogStore:
    return request.app.state.store


StoreDep = Annotated[CatalogStore, Depends(get_store)]
