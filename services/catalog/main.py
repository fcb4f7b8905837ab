"""Catalog service: TTS speakers and speaker collections."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.catalog.dependencies import get_settings
from services.catalog.key_store import ADMIN_USER, KeyStore
from services.catalog.reference_audio import ReferenceRecordings, reconcile_with_rows
from services.catalog.routers import collections, keys, speakers
from services.catalog.service import CatalogService
from services.catalog.store import CatalogStore
from services.common.app import create_app
from services.common.auth import parse_scopes
from services.common.db import async_database_url, create_engine, migrate, session_factory

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def build_app() -> FastAPI:
    settings = get_settings()
    engine = create_engine(async_database_url(settings.database_url, settings.catalog_dir / "catalog.db"))
    store = CatalogStore(session_factory(engine), settings.catalog_max_collections_per_user)
    recordings = ReferenceRecordings(settings.reference_audio_dir, settings.reference_min_s, settings.reference_max_s)
    catalog = CatalogService(store, recordings)
    key_store = KeyStore(session_factory(engine))
    state = {"ready": False, "reference_audio_missing": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.catalog, app.state.keys = catalog, key_store
        await migrate(engine, MIGRATIONS, "catalog_alembic_version")
        if settings.admin_api_key is not None:
            added = await key_store.ensure(settings.admin_api_key.get_secret_value(), ADMIN_USER, parse_scopes("admin"))
            logger.info("ADMIN_API_KEY %s", "stored" if added else "already stored")
        added = await store.seed_builtin_speakers()
        logger.info("built-in speakers seeded (%d new)", added)
        state["reference_audio_missing"] = len((await reconcile_with_rows(recordings, engine)).missing)  # rows kept
        state["ready"] = True
        yield
        await engine.dispose()

    return create_app(
        service="catalog",
        scope="catalog",
        settings=settings,
        routers=[
            speakers.router,
            speakers.internal,
            collections.router,
            collections.internal,
            keys.router,
            keys.internal,
        ],
        readiness=lambda: (
            state["ready"],
            {"database": engine.dialect.name, "reference_audio_missing": state["reference_audio_missing"]},
        ),
        lifespan=lifespan,
        description="TTS speakers and collections that route each language to a speaker; the fleet's API keys.",
        verifier=key_store,
    )


app = build_app()
