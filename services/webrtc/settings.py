"""WebRTC settings (environment variables of the same name, upper-case)."""

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class WebrtcSettings(ServiceSettings):
    # A refused value is not echoed at start: TURN_SECRET and ICE_SERVERS hold credentials.
    model_config = SettingsConfigDict(hide_input_in_errors=True)  # merged with ServiceSettings'

    voicechat_ws_url: str = Field(
        "ws://127.0.0.1:8204/ws/voice-chat",
        description="The voice-chat orchestrator's WebSocket; every peer's conversation runs there.",
    )
    catalog_url: str = Field(
        "http://127.0.0.1:8206", description="Speaker catalog, to check `speaker_id` and `reference_audio`."
    )
    ice_servers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="STUN/TURN servers as a JSON list of RTCIceServer objects, e.g. "
        '`[{"urls": "stun:stun.example.org:3478"}, {"urls": ["turn:turn.example.org:3478"], '
        '"username": "u", "credential": "p"}]`. The server uses them and hands them to clients on '
        "GET /ice-servers. Empty: host candidates only (same network, or a public IP). Static TURN credentials "
        "here are readable by anyone who loads the page: prefer TURN_SECRET.",
    )
    turn_secret: SecretStr | None = Field(
        None,
        description="The TURN server's shared secret (coturn: `use-auth-secret`, `static-auth-secret`). Set, each "
        "GET /ice-servers adds a TURN entry for TURN_URLS with a fresh time-limited credential (TURN REST scheme: "
        "username `<expiry>:<random id>`, credential base64(HMAC-SHA1(secret, username))). Unset: ICE_SERVERS only.",
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description='TURN URLs the TURN_SECRET credentials are for (JSON list, e.g. `["turn:turn.example.org:3478", '
        '"turns:turn.example.org:5349"]`); required with TURN_SECRET.',
    )
    turn_ttl_s: int = Field(
        3600, ge=60, le=86400, description="How long a credential from GET /ice-servers is valid, in seconds."
    )
    replica_url: str = Field(
        "http://127.0.0.1:8205",
        description="How the other replicas reach this one (its own address, e.g. the pod IP); recorded in "
        "Redis next to each pc_id so that an /ice landing elsewhere is forwarded here.",
    )
    max_peers: int = Field(20, ge=1, description="Peers one replica serves at once; /offer answers 503 past it.")
    peer_connect_timeout_s: float = Field(
        20.0, gt=0, description="A peer that has not connected this long after its offer is closed."
    )
    peer_media_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A peer whose microphone stops sending (and that sends nothing on the data channel) for "
        "this long is closed: a browser that vanished without `pc.close()`.",
    )
    mic_chunk_ms: int = Field(60, ge=20, le=500, description="Microphone audio per message to the orchestrator.")
    default_language: str | None = Field(
        None,
        description="Language of a session whose offer names neither a language nor a speaker; unset: the "
        "orchestrator's default.",
    )

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers_have_urls(cls, servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for server in servers:
            urls = server.get("urls")
            if not urls or not isinstance(urls, str | list):
                raise ValueError('every ICE server needs "urls" (a string or a list of strings)')
        return servers

    @field_validator("turn_urls")
    @classmethod
    def _turn_urls_are_turn(cls, urls: list[str]) -> list[str]:
        if not all(url.startswith(("turn:", "turns:")) for url in urls):
            raise ValueError("every TURN_URLS entry starts with turn: or turns:")
        return urls

    @model_validator(mode="after")
    def _turn_secret_and_urls_together(self) -> "WebrtcSettings":
        if (self.turn_secret is None) != (not self.turn_urls):
            raise ValueError("TURN_SECRET and TURN_URLS go together: set both or neither")
        return self
