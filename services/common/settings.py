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
    log_health_probes: bool = Field(
        False, description="Log an access line for every /healthz and /readyz request (probes run every few seconds)."
    )
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
    redis_url: str | None = Field(
        None,
        description="Redis shared by the replicas: per-client limits count there (and webrtc keeps its "
        "pc_id → replica directory there). Unset: each process counts on its own.",
    )
    rate_limit_per_minute: int = Field(
        0,
        ge=0,
        description="Requests a client (by gateway address) may make per minute to this service, across "
        "replicas when REDIS_URL is set; more get 429 + Retry-After. 0: no limit.",
    )
    max_client_sessions: int = Field(
        0,
        ge=0,
        description="WebSocket sessions one client may hold open at once on this service, across replicas "
        "when REDIS_URL is set; more are refused (error event, close code 1013). 0: no limit.",
    )
