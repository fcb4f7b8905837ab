"""Time-limited TURN credentials: the TURN REST scheme (coturn's `use-auth-secret` with `static-auth-secret`).

The username is `<expiry, unix seconds>:<user id>` and the credential is base64(HMAC-SHA1(secret, username)).
The TURN server holds the same secret, recomputes the HMAC and refuses a username whose expiry has passed, so
nothing is stored or shared per user, and what a page is handed is worth `ttl_s` seconds at most; the secret
itself never leaves this process."""

import base64
import hashlib
import hmac
import secrets
import time


def turn_credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_server(secret: str, urls: list[str], ttl_s: int) -> dict[str, object]:
    """An RTCIceServer for `urls`, valid for `ttl_s` from now. The user id is random per call (requests carry
    no identity yet), so no two pages share a username."""
    expiry = int(time.time()) + ttl_s
    username = f"{expiry}:{secrets.token_urlsafe(12)}"
    return {"urls": urls, "username": username, "credential": turn_credential(secret, username)}
