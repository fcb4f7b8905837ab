"""Settings shared by every service; each service subclasses `ServiceSettings` once."""

from pathlib import Path

from pydantic import Field, SecretStr
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
    auth_required: bool = Field(
        False,
        description="Every request needs an API key (Authorization: Bearer, ?api_key= or the voicefleet.key.<key> "
        "WebSocket subprotocol): 401 without a valid one, 403 outside its scopes (docs/SECURITY.md). false (the "
        "`make run` default): no key is needed and keys are ignored. Set the same on every service.",
    )
    service_token: SecretStr | None = Field(
        None,
        description="Shared secret of the fleet's own services: a call carrying it in X-Service-Token acts for the "
        "caller's key without that service's scope check (voice chat calling asr and tts for a chat-only key). "
        "Set the same on every service; unset: every call needs the callee's scope.",
    )
    auth_verify_url: str = Field(
        "http://127.0.0.1:8206/internal/auth/verify",
        description="The catalog's key check, which every other service asks (the catalog checks in process).",
    )
    auth_cache_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How long a service reuses the catalog's answer for a key: a revoked key is refused at most "
        "this long after its revocation. 0: ask for every request.",
    )
