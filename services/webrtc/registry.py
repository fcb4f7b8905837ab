"""Peers of this replica by pc_id, and — with Redis — which replica owns each pc_id.

A peer leaves the registry when its connection fails or closes, when it has not connected within
`peer_connect_timeout_s`, when its media stops for `peer_media_timeout_s`, and at shutdown. Past `max_peers` new
offers get 503.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import redis.asyncio as redis
from prometheus_client import Gauge

from services.common.errors import ServiceBusy
from services.webrtc.peer import Peer
from services.webrtc.settings import WebrtcSettings

logger = logging.getLogger(__name__)

PEERS = Gauge("webrtc_peers", "Peer connections held by this replica")
WATCH_INTERVAL_S = 1.0
DIRECTORY_TTL_S = 120
DIRECTORY_REFRESH_S = 30


class PeerDirectory:
    """pc_id → the URL of the replica that holds it, shared by all replicas through Redis."""

    def __init__(self, url: str, replica_url: str) -> None:
        self._redis = redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.replica_url = replica_url.rstrip("/")

    @staticmethod
    def _key(pc_id: str) -> str:
        return f"voicefleet:webrtc:peer:{pc_id}"

    async def record(self, pc_id: str) -> None:
        await self._redis.set(self._key(pc_id), self.replica_url, ex=DIRECTORY_TTL_S)

    async def owner(self, pc_id: str) -> str | None:
        value = await self._redis.get(self._key(pc_id))
        return value.decode() if value is not None else None

    async def forget(self, pc_id: str) -> None:
        await self._redis.delete(self._key(pc_id))

    async def close(self) -> None:
        await self._redis.aclose()


class PeerRegistry:
    def __init__(self, settings: WebrtcSettings, directory: PeerDirectory | None) -> None:
        self.settings = settings
        self.directory = directory
        self._peers: dict[str, Peer] = {}
        self._reserved = 0  # offers being answered
        self._watchdog: asyncio.Task | None = None
        self._closing: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._peers)

    def get(self, pc_id: str) -> Peer | None:
        return self._peers.get(pc_id)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a place for an offer being answered; 503 when the replica is full."""
        if len(self._peers) + self._reserved >= self.settings.max_peers:
            raise ServiceBusy(f"this server holds its maximum of {self.settings.max_peers} peers; try again later", 5)
        self._reserved += 1
        try:
            yield
        finally:
            self._reserved -= 1

    async def add(self, peer: Peer) -> None:
        self._peers[peer.pc_id] = peer
        PEERS.set(len(self._peers))
        if self.directory is not None:
            await self.directory.record(peer.pc_id)
        peer.start()

    async def remove(self, peer: Peer) -> None:
        """The peer's on_closed callback."""
        if self._peers.pop(peer.pc_id, None) is None:
            return
        PEERS.set(len(self._peers))
        if self.directory is not None:
            try:
                await self.directory.forget(peer.pc_id)
            except redis.RedisError as exc:  # the entry expires on its own
                logger.warning("could not remove peer %s from Redis: %s", peer.pc_id, exc)

    def start(self) -> None:
        self._watchdog = asyncio.create_task(self._watch())

    async def close_all(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        await asyncio.gather(*(peer.close("server shutdown") for peer in list(self._peers.values())))
        if self.directory is not None:
            await self.directory.close()

    async def _watch(self) -> None:
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            for peer in list(self._peers.values()):
                reason = self._expired(peer, now)
                if reason:
                    task = asyncio.create_task(peer.close(reason))
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
            if self.directory is not None and now - last_refresh >= DIRECTORY_REFRESH_S:
                last_refresh = now
                try:
                    for pc_id in list(self._peers):
                        await self.directory.record(pc_id)
                except redis.RedisError as exc:
                    logger.warning("could not refresh the peer directory: %s", exc)

    def _expired(self, peer: Peer, now: float) -> str | None:
        if peer.connected_at is None and now - peer.created > self.settings.peer_connect_timeout_s:
            return f"not connected within {self.settings.peer_connect_timeout_s:g} s"
        if peer.has_mic and now - peer.last_inbound > self.settings.peer_media_timeout_s:
            return f"no media for {self.settings.peer_media_timeout_s:g} s"
        return None
