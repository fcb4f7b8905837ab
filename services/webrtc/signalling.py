"""Signalling messages of POST /offer and POST /ice (field names from the API reference), and their
translation into aiortc objects."""

from typing import Any, Literal

from aiortc import RTCIceCandidate, RTCIceServer
from aiortc.sdp import SessionDescription, candidate_from_sdp
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import InvalidInput
from services.common.languages import Language

MAX_SDP_CHARS = 64_000


class Offer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="SDP from pc.localDescription.sdp.")
    type: Literal["offer"] = Field(description='Always "offer".')
    speaker_id: str | None = Field(None, max_length=100, description="TTS speaker UUID for the agent's voice.")
    user_system_prompt: str | None = Field(None, max_length=4000, description="System prompt for the LLM agent.")
    reference_audio: str | None = Field(
        None, max_length=300, description="The selected speaker's reference recording (from /api/speakers)."
    )
    reference_text: str | None = Field(None, max_length=1000, description="Transcript of `reference_audio`.")
    language: Language | None = Field(
        None, description="Conversation language; default: the speaker's, else the server's."
    )
    collection_id: str | None = Field(None, max_length=100, description="Collection routing the agent's voice.")


class Answer(BaseModel):
    pc_id: str = Field(description="Peer connection ID. Required for all subsequent /ice calls.")
    sdp: str = Field(description="Server SDP answer. Pass to pc.setRemoteDescription().")
    type: Literal["answer"] = "answer"


class Candidate(BaseModel):
    candidate: str = Field(max_length=1000)
    sdpMid: str | None = Field(None, max_length=100)  # noqa: N815 (browser field name)
    sdpMLineIndex: int | None = Field(None, ge=0, le=64)  # noqa: N815


class IceRequest(BaseModel):
    pc_id: str = Field(min_length=1, max_length=100)
    candidate: Candidate | None = Field(description="An ICE candidate, or null at the end of gathering.")


class PeerRef(BaseModel):
    pc_id: str = Field(min_length=1, max_length=100)


def check_offer_sdp(sdp: str) -> SessionDescription:
    """The parsed offer; InvalidInput when it is not SDP a peer can be built from."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the malformed line provokes
        raise InvalidInput(f"malformed SDP: {type(exc).__name__}: {exc}") from None
    kinds = {media.kind for media in parsed.media}
    if not kinds & {"audio", "application"}:
        raise InvalidInput("the offer has neither an audio section nor a data channel")
    return parsed


def ice_candidate(candidate: Candidate) -> RTCIceCandidate | None:
    """An aiortc candidate, or None for the end of candidates (browsers also signal it with "")."""
    text = candidate.candidate.strip()
    if not text:
        return None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        raise InvalidInput("a candidate needs sdpMid or sdpMLineIndex")
    text = text.removeprefix("a=").removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(text)
    except Exception as exc:  # the parser asserts, indexes and converts without checking first
        raise InvalidInput(f"malformed ICE candidate: {exc or type(exc).__name__}") from None
    if parsed.protocol.lower() not in ("udp", "tcp") or not 0 < parsed.port < 65536:
        raise InvalidInput("malformed ICE candidate: bad transport or port")
    parsed.sdpMid = candidate.sdpMid
    parsed.sdpMLineIndex = candidate.sdpMLineIndex
    return parsed


def rtc_ice_servers(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
        for server in servers
    ]
