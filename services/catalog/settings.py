"""Catalog service settings (environment variables of the same name, upper-case)."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.auth import key_id
from services.common.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    # A refused value is not echoed at start: ADMIN_API_KEY and DATABASE_URL hold credentials.
    model_config = SettingsConfigDict(hide_input_in_errors=True)  # merged with ServiceSettings'

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

    admin_api_key: SecretStr | None = Field(
        None,
        description="An API key the catalog makes sure exists at start, for user `admin` with the admin scope "
        "(the hash is stored; a key revoked later stays revoked). Form `vf_<12 of a-z0-9>_<43 of A-Za-z0-9_->`: "
        "`make deploy-secrets` writes one into deploy/.env; the Helm chart generates one into its Secret.",
    )

    @field_validator("admin_api_key")
    @classmethod
    def well_formed_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and key_id(value.get_secret_value()) is None:
            raise ValueError("ADMIN_API_KEY must be vf_<12 lower-case letters or digits>_<43 of A-Za-z0-9_->")
        return value

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def reference_audio_dir(self) -> Path:
        return self.speaker_audio_dir or self.catalog_dir / "reference_audio"
