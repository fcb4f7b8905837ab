"""API keys and who a request acts for, checked once per request by every service (docs/SECURITY.md).

`AuthMiddleware` (installed by `create_app`) finds the caller's key, has it verified and stores the
`Identity` in the ASGI scope's state; routes take it with `IdentityDep`. With `AUTH_REQUIRED=false` every
request is `ANONYMOUS` (user `default`, every scope) and keys are ignored. With `true` a request without a
valid key is refused (HTTP 401 + `WWW-Authenticate: Bearer`; a WebSocket gets an `error` event and close
1008), and a key without the service's scope gets 403. Keys look like `vf_<id>_<secret>`; the catalog keeps
them (hashed) and verifies them, in process for itself and over HTTP for the other services
(`services.common.auth_client`).
"""

import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Protocol
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ApiError, Forbidden, Unauthorized, error_body
from services.common.protocols.base import ErrorEvent
from services.common.settings import ServiceSettings

SCOPES = ("asr", "voice", "tts", "catalog", "chat", "admin")
SERVICE_SCOPES = SCOPES[:-1]  # what `--scopes all` grants: every service, not administration
SHARED_OWNER = "default"

KEY_PATTERN = re.compile(r"vf_([0-9a-z]{12})_[A-Za-z0-9_-]{43}")  # vf_<public id>_<256-bit secret>
QUERY_KEY = "api_key"
SUBPROTOCOL = "voicefleet"  # offered with `voicefleet.key.<key>`; the server answers with this one
SUBPROTOCOL_KEY_PREFIX = "voicefleet.key."
SERVICE_TOKEN_HEADER = "X-Service-Token"
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
    | {"/internal/auth/verify"}
)
OPEN_PREFIXES = ("/webrtc-demo", "/console")  # static pages: the page asks for the key, the API checks it
STATE_KEY = "identity"
WS_POLICY_VIOLATION, WS_TRY_AGAIN_LATER = 1008, 1013


def key_id(key: str) -> str | None:
    """The public id of a well-formed key, None for anything else (which is never looked up)."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def parse_scopes(text: str) -> frozenset[str]:
    """`all` (every service scope, not admin), or a comma list of SCOPES (`asr,tts`, `admin`)."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(SERVICE_SCOPES)
    unknown = sorted(names - set(SCOPES))
    if unknown or not names:
        raise ValueError(f"unknown scopes {unknown or [text]}; use `all` or a comma list of {', '.join(SCOPES)}")
    return frozenset(names)


@dataclass(frozen=True)
class Identity:
    """Who a request acts for. `authenticated` is False only for ANONYMOUS (auth off)."""

    user_id: str
    scopes: frozenset[str]
    key: str | None = field(repr=False)  # forwarded on internal calls; never logged
    authenticated: bool

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def owner(self, requested: str | None) -> str:
        """The user a request's data belongs to: the requested one if the key may act for them."""
        if not self.authenticated:
            return requested or SHARED_OWNER
        if requested is None or requested == self.user_id:
            return self.user_id
        if self.is_admin:
            return requested
        raise Forbidden(f"this key is user {self.user_id!r}'s; only an admin key may act for {requested[:64]!r}")

    def can_write(self, owner: str) -> bool:
        return not self.authenticated or owner == self.user_id or self.is_admin

    def visible_owners(self) -> tuple[str, ...] | None:
        """Whose data the caller sees: its own and the shared; None (auth off) means everyone's."""
        return (self.user_id, SHARED_OWNER) if self.authenticated else None


ANONYMOUS = Identity(user_id=SHARED_OWNER, scopes=frozenset(SCOPES), key=None, authenticated=False)


class KeyVerifier(Protocol):
    """Who a key belongs to: an Identity, None for an unknown or revoked key; AuthUnavailable (503) when
    that cannot be found out."""

    async def verify(self, key: str) -> Identity | None: ...

    async def close(self) -> None: ...


def get_identity(connection: HTTPConnection) -> Identity:
    """The identity the middleware found (routes on open paths have none while auth is on)."""
    identity = connection.scope.get("state", {}).get(STATE_KEY)
    if identity is None:
        raise Unauthorized("this route needs an API key, and none was checked for it")
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


def forward_headers(identity: Identity, settings: ServiceSettings) -> dict[str, str]:
    """Headers of an internal call made for `identity`: its key, and the service token when configured."""
    if identity.key is None:
        return {}
    headers = {"Authorization": f"Bearer {identity.key}"}
    if settings.service_token is not None:
        headers[SERVICE_TOKEN_HEADER] = settings.service_token.get_secret_value()
    return headers


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or any(path == p or path.startswith(p + "/") for p in OPEN_PREFIXES)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def take_query_key(scope: Scope) -> str | None:
    """The `api_key` query parameter, removed from the scope's query string (so that no access log and no
    route ever sees it)."""
    raw = scope.get("query_string", b"")
    if QUERY_KEY.encode() not in raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    keys = [value for name, value in pairs if name == QUERY_KEY]
    scope["query_string"] = urlencode([(n, v) for n, v in pairs if n != QUERY_KEY]).encode("latin-1")
    return keys[0] if keys else None


def offered_subprotocols(scope: Scope) -> list[str]:
    return list(scope.get("subprotocols") or []) if scope["type"] == "websocket" else []


def find_key(scope: Scope) -> str | None:
    """`Authorization: Bearer <key>`, else `?api_key=<key>`, else a `voicefleet.key.<key>` subprotocol."""
    query_key = take_query_key(scope)
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    if query_key:
        return query_key
    for protocol in offered_subprotocols(scope):
        if protocol.startswith(SUBPROTOCOL_KEY_PREFIX):
            return protocol.removeprefix(SUBPROTOCOL_KEY_PREFIX)
    return None


def _with_subprotocol(scope: Scope, send: Send) -> Send:
    """A browser that offered `voicefleet` fails the handshake unless the server picks it: pick it when the
    route chose none."""
    if SUBPROTOCOL not in offered_subprotocols(scope):
        return send

    async def send_choosing(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": SUBPROTOCOL}
        await send(message)

    return send_choosing


class AuthMiddleware:
    """Finds the caller's key, verifies it and stores the Identity; refuses what may not pass."""

    def __init__(
        self, app: ASGIApp, *, service_scope: str, settings: ServiceSettings, verifier: KeyVerifier | None
    ) -> None:
        if service_scope not in SCOPES:
            raise ValueError(f"unknown scope {service_scope!r}; one of {SCOPES}")
        if settings.auth_required and verifier is None:
            raise ValueError("AUTH_REQUIRED=true needs a key verifier")
        self.app = app
        self.service_scope = service_scope
        self.required = settings.auth_required
        self.service_token = settings.service_token.get_secret_value() if settings.service_token else None
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        key = find_key(scope)
        send = _with_subprotocol(scope, send) if scope["type"] == "websocket" else send
        if not self.required:
            scope.setdefault("state", {})[STATE_KEY] = ANONYMOUS
        elif not is_open(scope["path"]):
            try:
                scope.setdefault("state", {})[STATE_KEY] = await self.identify(scope, key)
            except ApiError as exc:
                await refuse(scope, receive, send, exc)
                return
        await self.app(scope, receive, send)

    async def identify(self, scope: Scope, key: str | None) -> Identity:
        if key is None:
            raise Unauthorized(
                "an API key is required: `Authorization: Bearer <key>` (browsers: `?api_key=<key>`, or the "
                f"`{SUBPROTOCOL_KEY_PREFIX}<key>` WebSocket subprotocol)"
            )
        identity = await self.verifier.verify(key) if self.verifier is not None else None
        if identity is None:
            raise Unauthorized("the API key is not valid (unknown, malformed or revoked)")
        if scope["path"].startswith("/internal/") or self._from_the_fleet(scope):
            return identity
        if not identity.has(self.service_scope):
            scopes = ", ".join(sorted(identity.scopes))
            raise Forbidden(f"this key may not use the {self.service_scope} service (its scopes: {scopes})")
        return identity

    def _from_the_fleet(self, scope: Scope) -> bool:
        token = _header(scope, SERVICE_TOKEN_HEADER.lower().encode())
        if token is None:
            return False
        if self.service_token is None or not hmac.compare_digest(token.encode(), self.service_token.encode()):
            raise Unauthorized(f"the {SERVICE_TOKEN_HEADER} is not this fleet's")
        return True


async def refuse(scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
    """HTTP: the error as JSON with its status and headers. WebSocket: accepted, one `error` event (its code:
    `unauthorized`, `forbidden`, `auth_unavailable`), then close 1008 (1013 when retrying can help)."""
    if scope["type"] == "http":
        body = error_body(exc.code, exc.message, retryable=exc.retryable)
        await _send_json(send, exc.status_code, body, exc.headers)
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": ErrorEvent(code=exc.code, message=exc.message).json_text()})
    code = WS_TRY_AGAIN_LATER if exc.retryable else WS_POLICY_VIOLATION
    await send({"type": "websocket.close", "code": code, "reason": exc.message[:120]})


async def _send_json(send: Send, status: int, body: dict, headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
