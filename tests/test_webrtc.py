"""The WebRTC voice agent with real aiortc client peers: through the gateway on the fleet's defaults
(local llama.cpp), and as two replicas sharing a Redis peer directory in front of a voice-chat
orchestrator whose LLM is the scripted OpenAI-protocol server (for barge-in on a long reply)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.audio_files import read_mono
from tests.conftest import DATA, SCRIPTED_LLM_URL, manifest
from tests.processes import service_process
from tests.scripted_llm import ScriptedLlm, scripted_llm_server
from tests.text import reference_text
from tests.webrtc_peer import FLEET_WEBRTC, CallerPeer, assert_heard, peers, until_peers

pytestmark = pytest.mark.fleet

VOICECHAT_PORT = 8281
REPLICA_PORTS = (8282, 8283)
REDIS_URL = "redis://127.0.0.1:6379/7"
DIRECTORY_PREFIX = "voicefleet:webrtc:peer:"
CLIP = "asr/sb_spk1_snt1.wav"


def speech(relative: str = CLIP):
    return read_mono((DATA / relative).read_bytes())


async def connected(caller: CallerPeer) -> None:
    await asyncio.wait_for(caller.connected.wait(), 20)
    await asyncio.wait_for(caller.channel_open.wait(), 20)


@pytest.fixture
async def gateway_client(fleet: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fleet, timeout=60) as client:
        yield client


# -- through the gateway, on the fleet's defaults ------------------------------------------------
async def test_spoken_turn_through_the_gateway_then_the_agent_hangs_up(gateway_client: httpx.AsyncClient) -> None:
    caller = CallerPeer()
    await caller.call(gateway_client, language="en")
    await connected(caller)
    caller.listen()
    caller.mic.say(speech())
    assert_heard(await caller.next_event("transcription", within_s=30), CLIP)
    assert (await caller.agent_text_until_end()).strip()
    # The fleet's voice chat ends a session after 4 s without the user (INACTIVITY_TIMEOUT_S in conftest):
    # the event reaches the channel, the agent's audio plays out, then the server closes the peer. The 4 s
    # count from the end of the follow-up's audio, and each reply of the local LLM may be up to
    # LLM_MAX_TOKENS (256) long: ~25 s of speech each, seen in runs where 30 s here was not enough.
    assert (await caller.next_event("disconnect", within_s=90))["reason"] == "timeout"
    await until_peers(FLEET_WEBRTC, 0, within_s=10)
    assert caller.voice_frames >= 50, "less than a second of the agent's voice arrived on the track"
    await asyncio.sleep(0.5)
    assert caller.pc.connectionState == "closed"
    await caller.close()


async def test_bad_signalling_is_refused_and_leaves_nothing_behind(gateway_client: httpx.AsyncClient) -> None:
    client = gateway_client
    caller = CallerPeer()
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    sdp = caller.pc.localDescription.sdp
    builtin = (await client.get("http://127.0.0.1:8005/api/speakers", params={"language": "en"})).json()["speakers"][0]
    bad_offers = {
        "not json": b"{sdp",
        "an answer": {"sdp": sdp, "type": "answer"},
        "no sdp": {"type": "offer"},
        "garbage SDP": {"sdp": "v=0\r\nhello", "type": "offer"},
        "unknown speaker": {"sdp": sdp, "type": "offer", "speaker_id": str(uuid.uuid4())},
        "a recording without a speaker": {"sdp": sdp, "type": "offer", "reference_audio": "vi.wav"},
        "a recording the speaker lacks": {
            "sdp": sdp,
            "type": "offer",
            "speaker_id": builtin["id"],
            "reference_audio": "../../etc/passwd",
        },
        "an overlong prompt": {"sdp": sdp, "type": "offer", "user_system_prompt": "x" * 5000},
        "an unknown language": {"sdp": sdp, "type": "offer", "language": "xx"},
    }
    for name, body in bad_offers.items():
        kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, bytes) else {}
        response = await client.post("/offer", **kwargs) if kwargs else await client.post("/offer", json=body)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["detail"], name
    assert (await client.post("/ice", json={"pc_id": str(uuid.uuid4()), "candidate": None})).status_code == 404
    assert (await client.post("/ice", json={"pc_id": "x"})).status_code == 422  # `candidate` is required
    assert peers(FLEET_WEBRTC) == 0

    await caller.close()
    caller = CallerPeer()
    answer = await caller.call(client, speaker_id=builtin["id"])  # the speaker's language is the session's
    pc_id = answer["pc_id"]
    bad_candidates = [
        {"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": "candidate:1 1 udp 1 192.0.2.9 9 typ host"},  # no sdpMid / sdpMLineIndex
        {"candidate": "candidate:1 1 udp 1 192.0.2.9 9 typ host", "sdpMid": "7"},  # not in the offer
    ]
    for candidate in bad_candidates:
        response = await client.post("/ice", json={"pc_id": pc_id, "candidate": candidate})
        assert response.status_code == 422, (candidate, response.text)
    good = {"candidate": "candidate:1 1 udp 1 192.0.2.9 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    assert (await client.post("/ice", json={"pc_id": pc_id, "candidate": good})).status_code == 200
    assert (await client.post("/ice", json={"pc_id": pc_id, "candidate": None})).status_code == 200
    await connected(caller)
    assert peers(FLEET_WEBRTC) == 1
    await caller.close()
    await until_peers(FLEET_WEBRTC, 0, within_s=5)
    assert (await client.post("/ice", json={"pc_id": pc_id, "candidate": None})).status_code == 404


async def test_reference_audio_must_be_the_speakers_own_recording(gateway_client: httpx.AsyncClient) -> None:
    text = reference_text(manifest()["asr/sb_spk2_snt1.wav"])
    form = {"name": "Cloned", "language": "en", "user_id": "webrtc-test", "reference_text": text}
    recording = ("mine.wav", (DATA / "asr/sb_spk2_snt1.wav").read_bytes())
    created = await gateway_client.post(
        "http://127.0.0.1:8005/api/speakers", data=form, files={"reference_audio": recording}
    )
    assert created.status_code == 200, created.text
    speaker = created.json()
    caller = CallerPeer()
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    offer = {"sdp": caller.pc.localDescription.sdp, "type": "offer", "speaker_id": speaker["id"]}
    refused = {
        "another file": {**offer, "reference_audio": "mine.wav", "reference_text": text},
        "another transcript": {**offer, "reference_audio": speaker["reference_audio"], "reference_text": "no"},
    }
    for name, body in refused.items():
        response = await gateway_client.post("/offer", json=body)
        assert response.status_code == 422, (name, response.text)
    await caller.close()
    caller = CallerPeer()
    answer = await caller.call(
        gateway_client,
        **{k: v for k, v in offer.items() if k not in ("sdp", "type")},
        reference_audio=speaker["reference_audio"],
        reference_text=f" {text} ",
    )
    assert answer["type"] == "answer"
    await connected(caller)
    await caller.close()
    await until_peers(FLEET_WEBRTC, 0, within_s=5)
    await gateway_client.delete(
        f"http://127.0.0.1:8005/api/speakers/{speaker['id']}", params={"user_id": "webrtc-test"}
    )


async def test_ice_servers_come_from_configuration(gateway_client: httpx.AsyncClient) -> None:
    config = (await gateway_client.get("/ice-servers")).json()
    assert config == {"iceServers": [], "bundlePolicy": "max-bundle", "rtcpMuxPolicy": "require"}


# -- two replicas with a Redis peer directory ----------------------------------------------------
@pytest.fixture(scope="module")
def llm(fleet: str) -> Iterator[ScriptedLlm]:
    with scripted_llm_server() as server:
        yield server


@pytest.fixture(scope="module")
def directory() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{DIRECTORY_PREFIX}*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture(scope="module")
def orchestrator(llm: ScriptedLlm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A voice-chat orchestrator of its own whose default LLM is the scripted one."""
    with service_process(
        "services.voicechat.main:app",
        VOICECHAT_PORT,
        tmp_path_factory.mktemp("voicechat"),
        LLM_BASE_URL=SCRIPTED_LLM_URL,
    ):
        yield f"ws://127.0.0.1:{VOICECHAT_PORT}/ws/voice-chat"


def replica_env(port: int, orchestrator: str) -> dict[str, str]:
    return {
        "VOICECHAT_WS_URL": orchestrator,
        "REDIS_URL": REDIS_URL,
        "REPLICA_URL": f"http://127.0.0.1:{port}",
        "MAX_PEERS": "2",
        "PEER_CONNECT_TIMEOUT_S": "2",
        "PEER_MEDIA_TIMEOUT_S": "2",
        "DEFAULT_LANGUAGE": "en",
    }


@pytest.fixture(scope="module")
def replicas(
    orchestrator: str, directory: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    data = tmp_path_factory.mktemp("webrtc")
    a, b = REPLICA_PORTS
    with (
        service_process("services.webrtc.main:app", a, data, **replica_env(a, orchestrator)) as url_a,
        service_process("services.webrtc.main:app", b, data, **replica_env(b, orchestrator)) as url_b,
    ):
        yield [url_a, url_b]


async def test_ice_reaching_the_other_replica_is_forwarded(replicas: list[str], directory: redis.Redis) -> None:
    owner, other = replicas
    caller = CallerPeer(trickle=True)  # the offer carries no candidates: only /ice can connect the peer
    async with httpx.AsyncClient(base_url=owner, timeout=30) as a, httpx.AsyncClient(base_url=other, timeout=30) as b:
        answer = await caller.call(a, ice_client=b)
        assert directory.get(f"{DIRECTORY_PREFIX}{answer['pc_id']}") == owner.encode()
        await connected(caller)
        assert (peers(owner), peers(other)) == (1, 0)
        caller.channel.send("Hello over the data channel")
        assert await caller.agent_text_until_end() == "You said: Hello over the data channel. Thanks."
        bad = {"pc_id": answer["pc_id"], "candidate": {"candidate": "candidate:x", "sdpMid": "0"}}
        assert (await b.post("/ice", json=bad)).status_code == 422  # the owner's answer, passed back
        await caller.close()
        await until_peers(owner, 0, within_s=5)
        assert directory.get(f"{DIRECTORY_PREFIX}{answer['pc_id']}") is None
        assert (await b.post("/ice", json={"pc_id": answer["pc_id"], "candidate": None})).status_code == 404


async def test_barge_in_stops_the_agents_voice(replicas: list[str]) -> None:
    caller = CallerPeer()
    async with httpx.AsyncClient(base_url=replicas[0], timeout=30) as client:
        await caller.call(client)
    await connected(caller)
    caller.listen()
    caller.channel.send("Tell me a story")
    await asyncio.wait_for(caller.voice_heard.wait(), 30)  # the agent is audibly speaking
    await asyncio.sleep(0.3)
    interruption = "asr/sb_spk2_snt1.wav"
    caller.mic.say(speech(interruption))
    await caller.next_event("interrupted", within_s=10)
    await asyncio.sleep(0.3)  # frames already on the wire
    caller.listen()
    await asyncio.sleep(1.0)  # the user is still talking: the agent stays quiet
    assert caller.voice_frames <= 2, caller.voice_frames
    assert_heard(await caller.next_event("transcription", within_s=20), interruption)
    await caller.agent_text_until_end()  # the new turn answers what the user said
    await caller.close()


async def test_peer_limit_and_timeouts(replicas: list[str]) -> None:
    url = replicas[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        callers = [CallerPeer(), CallerPeer()]
        for caller in callers:
            await caller.call(client)
            await connected(caller)
        extra = CallerPeer()
        await extra.pc.setLocalDescription(await extra.pc.createOffer())
        full = await client.post("/offer", json={"sdp": extra.pc.localDescription.sdp, "type": "offer"})
        assert full.status_code == 503 and full.headers["retry-after"], full.text
        await callers.pop().close()
        await until_peers(url, 1, within_s=5)

        # A microphone that goes quiet without a goodbye (a vanished browser): closed after 2 s.
        callers[0].mic.stop()
        waited = await until_peers(url, 0, within_s=10)
        assert waited >= 1.0
        await asyncio.sleep(0.5)
        assert callers[0].pc.connectionState == "closed"  # the server hung up

        # An offer whose answer is never used: closed after the connect timeout (2 s).
        answer = await client.post("/offer", json={"sdp": extra.pc.localDescription.sdp, "type": "offer"})
        assert answer.status_code == 200
        assert peers(url) == 1
        await until_peers(url, 0, within_s=10)
        await extra.close()
        await callers[0].close()


async def test_shutdown_closes_every_peer(orchestrator: str, directory: redis.Redis, tmp_path: Path) -> None:
    port = 8284
    with service_process("services.webrtc.main:app", port, tmp_path, **replica_env(port, orchestrator)) as url:
        caller = CallerPeer()
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await caller.call(client)
        await connected(caller)
        assert directory.get(f"{DIRECTORY_PREFIX}{answer['pc_id']}") is not None
    # service_process stopped it with SIGTERM
    for _ in range(50):
        if caller.pc.connectionState == "closed":
            break
        await asyncio.sleep(0.1)
    assert caller.pc.connectionState == "closed"
    assert directory.get(f"{DIRECTORY_PREFIX}{answer['pc_id']}") is None
    await caller.close()
