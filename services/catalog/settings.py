"""Catalog service settings (environment variables of the same name, upper-case)."""

from pathlib import Path

from pydantic import Field, field_validator

from services.common.settings import ServiceSettings

LANGUAGES = ("vi", "en", "fr", "ja", "ko", "zh", "ru")


class CatalogSettings(ServiceSettings):
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the catalog database, e.g. `postgresql://user@host/db` (asyncpg); "
        "unset: a SQLite file at `<DATA_DIR>/catalog/catalog.db`.",
    )
    catalog_max_collections_per_user: int = Field(
        500, ge=1, description="Collections one user may own; past it POST answers 422."
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"
