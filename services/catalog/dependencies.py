"""Dependency getters, so tests can override them with `app.dependency_overrides`."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from services.catalog.service import CatalogService
from services.catalog.settings import CatalogSettings


@lru_cache
def get_settings() -> CatalogSettings:
    return CatalogSettings()


def get_catalog(request: Request) -> CatalogService:
    return request.app.state.catalog


CatalogDep = Annotated[CatalogService, Depends(get_catalog)]
