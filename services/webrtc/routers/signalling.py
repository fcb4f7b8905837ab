"""POST /offer, POST /ice and GET /ice-servers.

An /ice for a pc_id this replica does not hold is forwarded to the replica that does (the peer directory
in Redis), once: a forwarded request carries FORWARDED_HEADER and is never forwarded again.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.auth import IdentityDep
from services.webrtc.dependencies import WebrtcDep
from services.webrtc.service import FORWARDED_HEADER
from services.webrtc.signalling import Answer, IceRequest, Offer

router = APIRouter(tags=["webrtc"])


@router.get("/ice-servers", summary="The RTCPeerConnection configuration a client should use")
async def ice_servers(webrtc: WebrtcDep) -> JSONResponse:
    # With TURN_SECRET each answer holds a credential of its own: never cached.
    return JSONResponse(webrtc.ice_servers(), headers={"Cache-Control": "no-store"})


@router.post("/offer", response_model=Answer, summary="Exchange an SDP offer for the server's answer")
async def offer(body: Offer, webrtc: WebrtcDep, identity: IdentityDep) -> Answer:
    return await webrtc.answer(body, identity)


@router.post("/ice", summary="Add a remote ICE candidate (null: end of candidates)")
async def ice(body: IceRequest, request: Request, webrtc: WebrtcDep, identity: IdentityDep) -> JSONResponse:
    content, status = await webrtc.add_candidate(body, request.headers.get(FORWARDED_HEADER), identity)
    return JSONResponse(content, status_code=status)
