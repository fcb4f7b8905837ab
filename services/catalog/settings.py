"""Catalog service settings (environment variables of the same name, upper-case)."""

from pathlib import Path

from pydantic import Field

from services.common.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the catalog database, e.g. `postgresql://user@host/db` (asyncpg); "
        "unset: a SQLite file at `<DATA_DIR>/catalog/catalog.db`.",
    )
    catalog_max_collections_per_user: int = Field(
        500, ge=1, description="Collections one user may own; past it POST answers 422."
    )

    speaker_audio_dir: Path | None = Field(
        None,
        description="Where uploaded reference recordings of voice-cloning speakers are kept (catalog's own; the "
        "tts service asks for them over HTTP); default `<DATA_DIR>/catalog/reference_audio`.",
    )
    reference_min_s: float = Field(2.0, gt=0, description="Shortest accepted reference recording.")
    reference_max_s: float = Field(30.0, gt=0, description="Longest accepted reference recording.")

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def reference_audio_dir(self) -> Path:
        return self.speaker_audio_dir or self.catalog_dir / "reference_audio"
