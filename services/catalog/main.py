"""Catalog service: TTS speakers and speaker collections."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.catalog.dependencies import get_settings
from services.catalog.reference_audio import ReferenceRecordings
from services.catalog.routers import collections, speakers
from services.catalog.service import CatalogService
from services.catalog.store import CatalogStore
from services.common.app import create_app
from services.common.db import async_database_url, create_engine, migrate, session_factory

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def build_app() -> FastAPI:
    settings = get_settings()
    engine = create_engine(async_database_url(settings.database_url, settings.catalog_dir / "catalog.db"))
    store = CatalogStore(session_factory(engine), settings.catalog_max_collections_per_user)
    recordings = ReferenceRecordings(settings.reference_audio_dir, settings.reference_min_s, settings.reference_max_s)
    catalog = CatalogService(store, recordings)
    state = {"ready": False}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.catalog = catalog
        await migrate(engine, MIGRATIONS, "catalog_alembic_version")
        added = await store.seed_builtin_speakers()
        logger.info("built-in speakers seeded (%d new)", added)
        state["ready"] = True
        yield
        await engine.dispose()

    return create_app(
        service="catalog",
        scope="catalog",
        settings=settings,
        routers=[speakers.router, speakers.internal, collections.router, collections.internal],
        readiness=lambda: (state["ready"], {"database": engine.dialect.name}),
        lifespan=lifespan,
        description="TTS speakers and collections that route each language to a speaker.",
    )


app = build_app()
