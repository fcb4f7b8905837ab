"""Key verification over HTTP, for every service but the catalog: `POST AUTH_VERIFY_URL` with the key,
answers reused for `AUTH_CACHE_S` (so a revocation reaches a service within that time); requests with the same
key that arrive while it is being asked about wait for that one answer."""

import asyncio
import hashlib
import time
from collections import OrderedDict

import httpx

from services.common.auth import SCOPES, Identity, key_id
from services.common.errors import ServiceBusy

VERIFY_TIMEOUT_S = 5.0
MAX_CACHED_KEYS = 10_000  # the oldest answer goes first past this


class AuthUnavailable(ServiceBusy):
    """The key could not be checked: the request is refused (503), never let through."""

    code = "auth_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


class HttpKeyVerifier:
    """Asks the catalog who a key belongs to; keeps answers (valid and not) for `cache_s`, by the key's hash."""

    def __init__(self, http: httpx.AsyncClient, url: str, cache_s: float) -> None:
        self._http = http
        self._url = url
        self._cache_s = cache_s
        self._cache: OrderedDict[str, tuple[float, Identity | None]] = OrderedDict()
        self._asking: dict[str, asyncio.Task[Identity | None]] = {}

    @classmethod
    def connect(cls, url: str, cache_s: float) -> "HttpKeyVerifier":
        return cls(httpx.AsyncClient(timeout=VERIFY_TIMEOUT_S), url, cache_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def verify(self, key: str) -> Identity | None:
        if key_id(key) is None:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        asking = self._asking.get(digest)
        if asking is None:
            asking = self._asking[digest] = asyncio.ensure_future(self._ask(key))
            asking.add_done_callback(lambda task: self._asked(digest, task))
        identity = await asyncio.shield(asking)  # a cancelled request leaves the answer to the others
        if self._cache_s > 0:
            self._cache.pop(digest, None)
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.popitem(last=False)
            self._cache[digest] = (time.monotonic() + self._cache_s, identity)
        return identity

    def _asked(self, digest: str, task: asyncio.Task[Identity | None]) -> None:
        self._asking.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: every request that waited for it may have been cancelled

    async def _ask(self, key: str) -> Identity | None:
        try:
            response = await self._http.post(self._url, json={"key": key})
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise AuthUnavailable(f"API keys cannot be checked: the catalog is unreachable ({reason})") from exc
        if response.status_code == 401:
            return None
        if response.status_code != 200:
            raise AuthUnavailable(f"API keys cannot be checked: the catalog answered {response.status_code}")
        body = response.json()
        scopes = frozenset(body["scopes"]) & set(SCOPES)
        return Identity(user_id=body["user_id"], scopes=scopes, key=key, authenticated=True)
