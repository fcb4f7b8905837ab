"""Settings shared by every service; each service subclasses `ServiceSettings` once."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base settings read from the environment (and an optional `.env` file)."""

    # An empty variable (e.g. `ANTISPOOF_MODEL=` or compose's `${VAR:-}`) means "not set": the default applies.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(True, description="Emit one JSON object per log line (false: plain text).")
    data_dir: Path = Field(Path("data"), description="Directory for persistent service data.")
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "voicefleet",
        description="Directory where embedded models are assembled once and reused.",
    )
    max_upload_mb: int = Field(
        100,
        gt=0,
        description="Largest accepted request body in MiB; larger uploads get 413 "
        "(the gateway reads the same variable).",
    )
