"""The WebRTC service object: it owns the peer registry (and the Redis peer directory), the catalog
client and the client that forwards `/ice` to the replica holding a peer, and answers offers."""

import logging

import httpx
import redis.asyncio as redis
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from services.common.auth import Identity, forward_headers
from services.common.errors import InvalidInput, NotFound, ServiceBusy
from services.common.protocols.voice_chat import Config
from services.webrtc.orchestrator import OrchestratorLink
from services.webrtc.peer import Peer
from services.webrtc.registry import PeerDirectory, PeerRegistry
from services.webrtc.settings import WebrtcSettings
from services.webrtc.signalling import Answer, IceRequest, Offer, check_offer_sdp, ice_candidate, rtc_ice_servers
from services.webrtc.turn import turn_server
from services.webrtc.voice_config import session_config

logger = logging.getLogger(__name__)
FORWARDED_HEADER = "X-Voicefleet-Forwarded-By"


class WebrtcService:
    def __init__(self, settings: WebrtcSettings) -> None:
        self.settings = settings
        directory = PeerDirectory(settings.redis_url, settings.replica_url) if settings.redis_url else None
        self.registry = PeerRegistry(settings, directory)
        self.catalog = httpx.AsyncClient(base_url=settings.catalog_url, timeout=5.0)
        self.http = httpx.AsyncClient(timeout=10.0)  # /ice forwarded to the replica holding the peer

    def start(self) -> None:
        self.registry.start()

    async def close(self) -> None:
        await self.registry.close_all()
        await self.catalog.aclose()
        await self.http.aclose()

    def ice_servers(self) -> dict[str, object]:
        """The configuration handed to pages: ICE_SERVERS as they are, plus, with TURN_SECRET, a TURN entry
        with a credential of its own that expires after TURN_TTL_S (services/webrtc/turn.py)."""
        s = self.settings
        servers = list(s.ice_servers)
        if s.turn_secret is not None:
            servers.append(turn_server(s.turn_secret.get_secret_value(), s.turn_urls, s.turn_ttl_s))
        return {"iceServers": servers, "bundlePolicy": "max-bundle", "rtcpMuxPolicy": "require"}

    async def answer(self, offer: Offer, identity: Identity) -> Answer:
        """A peer for `offer`, connected to its voice-chat session; the SDP answer. The catalog and the
        voice chat are asked on the caller's behalf (its key), so the session uses only its voices."""
        s = self.settings
        parsed = check_offer_sdp(offer.sdp)
        on_behalf = forward_headers(identity, s)
        with self.registry.slot():
            config = Config.model_validate(await session_config(offer, self.catalog, s.default_language, on_behalf))
            pc = RTCPeerConnection(RTCConfiguration(iceServers=rtc_ice_servers(s.ice_servers)))
            link = OrchestratorLink(s.voicechat_ws_url, on_behalf)
            mids = [media.rtp.muxId for media in parsed.media]
            peer = Peer(pc, link, mids, s.mic_chunk_ms, self.registry.remove, identity.user_id)
            try:
                await _negotiate(pc, peer, offer.sdp)
                await link.open(config)
                await pc.setLocalDescription(await pc.createAnswer())
            except BaseException:
                await link.close()
                await pc.close()
                raise
            await self.registry.add(peer)
        logger.info("peer %s answered", peer.pc_id)
        return Answer(pc_id=peer.pc_id, sdp=pc.localDescription.sdp)

    async def add_candidate(
        self, body: IceRequest, forwarded_by: str | None, identity: Identity
    ) -> tuple[dict[str, object], int]:
        """Add a remote candidate to a peer here, or forward it (once, with the caller's key) to the replica
        that holds it. Another user's peer is unknown."""
        peer = self.registry.get(body.pc_id)
        if peer is None:
            return await self._forward_to_owner(body, forwarded_by, forward_headers(identity, self.settings))
        if not identity.can_write(peer.owner):
            raise NotFound(f"unknown pc_id {body.pc_id}")
        candidate = ice_candidate(body.candidate) if body.candidate is not None else None
        if candidate is not None:
            peer.check_candidate_target(candidate)
        await peer.pc.addIceCandidate(candidate)
        return {"pc_id": body.pc_id, "status": "ok"}, 200

    async def _forward_to_owner(
        self, body: IceRequest, forwarded_by: str | None, on_behalf: dict[str, str]
    ) -> tuple[dict[str, object], int]:
        directory = self.registry.directory
        unknown = NotFound(f"unknown pc_id {body.pc_id}")
        if directory is None or forwarded_by is not None:
            raise unknown
        try:
            owner = await directory.owner(body.pc_id)
        except redis.RedisError as exc:
            raise ServiceBusy(f"the peer directory is unavailable: {exc}") from exc
        if owner is None or owner == directory.replica_url:
            raise unknown
        try:
            headers = {**on_behalf, FORWARDED_HEADER: directory.replica_url}
            response = await self.http.post(f"{owner}/ice", json=body.model_dump(), headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("replica %s holding %s is unreachable: %s", owner, body.pc_id, exc)
            raise NotFound(f"unknown pc_id {body.pc_id} (its server is gone)") from exc
        return response.json(), response.status_code

    def status(self) -> tuple[bool, dict[str, object]]:
        s = self.settings
        return True, {
            "peers": len(self.registry),
            "max_peers": s.max_peers,
            "directory": "redis" if s.redis_url else "none",
            "voicechat": s.voicechat_ws_url,
        }


async def _negotiate(pc: RTCPeerConnection, peer: Peer, sdp: str) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # aiortc rejects an unusable offer with assorted exception types
        raise InvalidInput(f"unusable SDP offer: {exc or type(exc).__name__}") from None
    if any(t.kind == "audio" for t in pc.getTransceivers()):
        pc.addTrack(peer.agent_track)
