"""Per-client limits on request rate and on concurrent WebSocket sessions.

A client is the address the gateway appended to `X-Forwarded-For`; calls between services (which do not
pass through the gateway) are not limited, nor are `/healthz`, `/readyz` and `/metrics`.

With `REDIS_URL` the counters live in Redis, so all replicas of a service share one budget per client;
without it each process counts on its own. If Redis cannot be reached the request goes through and a
warning is logged: a limit must not take the fleet down with it.
"""

import asyncio
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from prometheus_client import Counter
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import error_body
from services.common.protocols.base import ErrorEvent

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 60
SESSION_LEASE_S = 60  # a slot not renewed this long is free again (a replica that died frees its clients)
SESSION_RENEW_S = 20
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
WS_TRY_AGAIN_LATER = 1013

LIMITED = Counter("client_limit_rejections_total", "Requests or sessions refused by a per-client limit", ["limit"])

# Takes a session slot if fewer than ARGV[2] live ones exist: expired leases are dropped first.
ACQUIRE_SESSION = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def client_address(scope: Scope) -> str | None:
    """The address the gateway saw (the last `X-Forwarded-For` entry), or None for a direct call."""
    forwarded = [value for name, value in scope.get("headers") or [] if name == b"x-forwarded-for"]
    if not forwarded:
        return None
    return forwarded[-1].decode("latin-1").split(",")[-1].strip() or None


class LocalCounters:
    """The counters of one process (no `REDIS_URL`)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], int] = defaultdict(int)
        self._sessions: dict[str, set[str]] = defaultdict(set)

    async def count_request(self, key: str, window: int) -> tuple[int, int]:
        for stale in [k for k in self._windows if k[1] < window - 1]:
            del self._windows[stale]
        self._windows[(key, window)] += 1
        return self._windows[(key, window)], self._windows.get((key, window - 1), 0)

    async def uncount_request(self, key: str, window: int) -> None:
        self._windows[(key, window)] -= 1

    async def acquire_session(self, key: str, session: str, limit: int) -> bool:
        if len(self._sessions[key]) >= limit:
            return False
        self._sessions[key].add(session)
        return True

    async def renew_session(self, key: str, session: str) -> None:
        """Nothing to renew: a process's own sessions end with it."""

    async def release_session(self, key: str, session: str) -> None:
        self._sessions[key].discard(session)
        if not self._sessions[key]:
            del self._sessions[key]

    async def close(self) -> None:
        """Nothing to close."""


class RedisCounters:
    """The counters in Redis, shared by every replica."""

    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._acquire = self._redis.register_script(ACQUIRE_SESSION)

    async def count_request(self, key: str, window: int) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(f"{key}:{window}")
            pipe.expire(f"{key}:{window}", 2 * RATE_WINDOW_S)
            pipe.get(f"{key}:{window - 1}")
            current, _, previous = await pipe.execute()
        return int(current), int(previous or 0)

    async def uncount_request(self, key: str, window: int) -> None:
        await self._redis.decr(f"{key}:{window}")

    async def acquire_session(self, key: str, session: str, limit: int) -> bool:
        now = time.time()
        args = [now, limit, now + SESSION_LEASE_S, session, SESSION_LEASE_S * 2]
        return bool(await self._acquire(keys=[key], args=args))

    async def renew_session(self, key: str, session: str) -> None:
        await self._redis.zadd(key, {session: time.time() + SESSION_LEASE_S}, xx=True)

    async def release_session(self, key: str, session: str) -> None:
        await self._redis.zrem(key, session)

    async def close(self) -> None:
        await self._redis.aclose()


class ClientLimits:
    """`rate_per_minute` requests (sliding window) and `max_sessions` open WebSockets per client; 0 turns one off."""

    def __init__(self, service: str, rate_per_minute: int, max_sessions: int, redis_url: str | None) -> None:
        self.rate_per_minute = rate_per_minute
        self.max_sessions = max_sessions
        self.counters = RedisCounters(redis_url) if redis_url else LocalCounters()
        self._prefix = f"voicefleet:limits:{service}"
        self._warned_at = 0.0

    async def retry_after(self, client: str) -> int | None:
        """Count one request; None when it is within the rate, else the seconds to wait."""
        now = time.time()
        window, into = divmod(now, RATE_WINDOW_S)
        key = f"{self._prefix}:rate:{client}"
        current, previous = await self.counters.count_request(key, int(window))
        # The previous window's count, weighted by how much of it still lies within the last minute.
        estimate = previous * (1 - into / RATE_WINDOW_S) + current
        if estimate <= self.rate_per_minute:
            return None
        await self.counters.uncount_request(key, int(window))  # a refused request does not use the budget
        return max(1, math.ceil(RATE_WINDOW_S - into))

    def session_key(self, client: str) -> str:
        return f"{self._prefix}:sessions:{client}"

    def warn_unavailable(self, exc: Exception) -> None:
        """Log (at most once a minute) that limits are not enforced because the counters are unreachable."""
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            logger.warning("client limits not enforced: counters unavailable (%s)", exc)


class ClientLimitsMiddleware:
    """Refuses HTTP requests over the rate with 429 + Retry-After, and WebSockets over either limit with an
    `error` event and close code 1013 (try again later)."""

    def __init__(self, app: ASGIApp, limits: ClientLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_address(scope) if scope["type"] in ("http", "websocket") else None
        if client is None or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            retry_after = await self.limits.retry_after(client) if self.limits.rate_per_minute else None
        except RedisError as exc:
            self.limits.warn_unavailable(exc)
            retry_after = None
        if retry_after is not None:
            LIMITED.labels("rate").inc()
            message = f"more than {self.limits.rate_per_minute} requests a minute from {client}; retry later"
            await self._refuse(scope, receive, send, message, retry_after)
            return
        if scope["type"] == "websocket" and self.limits.max_sessions:
            await self._session(scope, receive, send, client)
            return
        await self.app(scope, receive, send)

    async def _session(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        key, session = self.limits.session_key(client), uuid.uuid4().hex
        counters = self.limits.counters
        try:
            acquired = await counters.acquire_session(key, session, self.limits.max_sessions)
        except RedisError as exc:
            self.limits.warn_unavailable(exc)
            await self.app(scope, receive, send)
            return
        if not acquired:
            LIMITED.labels("sessions").inc()
            message = f"{client} already has {self.limits.max_sessions} open sessions; close one or retry later"
            await self._refuse(scope, receive, send, message, SESSION_RENEW_S)
            return
        renewal = asyncio.create_task(self._renew(key, session))
        try:
            await self.app(scope, receive, send)
        finally:
            renewal.cancel()
            try:
                await counters.release_session(key, session)
            except RedisError as exc:  # the lease expires on its own
                self.limits.warn_unavailable(exc)

    async def _renew(self, key: str, session: str) -> None:
        while True:
            await asyncio.sleep(SESSION_RENEW_S)
            try:
                await self.limits.counters.renew_session(key, session)
            except RedisError as exc:
                self.limits.warn_unavailable(exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str, retry_after: int) -> None:
        if scope["type"] == "http":
            await _send_json(send, 429, error_body("rate_limited", message, retryable=True), retry_after)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        event = ErrorEvent(code="rate_limited", message=message)
        await send({"type": "websocket.send", "text": event.json_text()})
        await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER, "reason": message[:120]})


async def _send_json(send: Callable[[dict], Awaitable[None]], status: int, body: dict, retry_after: int) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
