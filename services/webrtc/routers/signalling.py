"""POST /offer, POST /ice and GET /ice-servers.

An /ice for a pc_id this replica does not hold is forwarded to the replica that does (the peer directory
in Redis), once: a forwarded request carries FORWARDED_HEADER and is never forwarded again.
"""

import logging

import httpx
import redis.asyncio as redis
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.errors import InvalidInput, NotFound, ServiceBusy
from services.common.protocols.voice_chat import Config
from services.webrtc.orchestrator import OrchestratorLink
from services.webrtc.peer import Peer
from services.webrtc.registry import PeerRegistry
from services.webrtc.settings import WebrtcSettings
from services.webrtc.signalling import Answer, IceRequest, Offer, check_offer_sdp, ice_candidate, rtc_ice_servers
from services.webrtc.voice_config import session_config

logger = logging.getLogger(__name__)
router = APIRouter(tags=["webrtc"])
FORWARDED_HEADER = "X-Voicefleet-Forwarded-By"


@router.get("/ice-servers", summary="The RTCPeerConnection configuration a client should use")
async def ice_servers(request: Request) -> dict[str, object]:
    settings: WebrtcSettings = request.app.state.settings
    return {"iceServers": settings.ice_servers, "bundlePolicy": "max-bundle", "rtcpMuxPolicy": "require"}


@router.post("/offer", response_model=Answer, summary="Exchange an SDP offer for the server's answer")
async def offer(body: Offer, request: Request) -> Answer:
    settings: WebrtcSettings = request.app.state.settings
    registry: PeerRegistry = request.app.state.registry
    parsed = check_offer_sdp(body.sdp)
    with registry.slot():
        config = await session_config(body, request.app.state.catalog, settings.default_language)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=rtc_ice_servers(settings.ice_servers)))
        link = OrchestratorLink(settings.voicechat_ws_url)
        peer = Peer(pc, link, [media.rtp.muxId for media in parsed.media], settings.mic_chunk_ms, registry.remove)
        try:
            await _negotiate(pc, peer, body.sdp)
            await link.open(Config.model_validate(config))
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await link.close()
            await pc.close()
            raise
        await registry.add(peer)
    logger.info("peer %s answered", peer.pc_id)
    return Answer(pc_id=peer.pc_id, sdp=pc.localDescription.sdp)


async def _negotiate(pc: RTCPeerConnection, peer: Peer, sdp: str) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # aiortc rejects an unusable offer with assorted exception types
        raise InvalidInput(f"unusable SDP offer: {exc or type(exc).__name__}") from None
    if any(t.kind == "audio" for t in pc.getTransceivers()):
        pc.addTrack(peer.agent_track)


@router.post("/ice", summary="Add a remote ICE candidate (null: end of candidates)")
async def ice(body: IceRequest, request: Request) -> JSONResponse:
    registry: PeerRegistry = request.app.state.registry
    peer = registry.get(body.pc_id)
    if peer is None:
        return await _forward_to_owner(request, body)
    candidate = ice_candidate(body.candidate) if body.candidate is not None else None
    if candidate is not None:
        peer.check_candidate_target(candidate)
    await peer.pc.addIceCandidate(candidate)
    return JSONResponse({"pc_id": body.pc_id, "status": "ok"})


async def _forward_to_owner(request: Request, body: IceRequest) -> JSONResponse:
    registry: PeerRegistry = request.app.state.registry
    directory = registry.directory
    unknown = NotFound(f"unknown pc_id {body.pc_id}")
    if directory is None or FORWARDED_HEADER in request.headers:
        raise unknown
    try:
        owner = await directory.owner(body.pc_id)
    except redis.RedisError as exc:
        raise ServiceBusy(f"the peer directory is unavailable: {exc}") from exc
    if owner is None or owner == directory.replica_url:
        raise unknown
    http: httpx.AsyncClient = request.app.state.http
    try:
        response = await http.post(
            f"{owner}/ice", json=body.model_dump(), headers={FORWARDED_HEADER: directory.replica_url}
        )
    except httpx.HTTPError as exc:
        logger.warning("replica %s holding %s is unreachable: %s", owner, body.pc_id, exc)
        raise NotFound(f"unknown pc_id {body.pc_id} (its server is gone)") from exc
    return JSONResponse(response.json(), status_code=response.status_code)
