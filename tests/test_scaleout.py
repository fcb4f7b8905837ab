"""Every service at two replicas behind a Traefik of its own, sharing real PostgreSQL and Redis: nothing a
request needs lives in one process. Voice prints registered on one voice replica verify on the other; a
WebRTC offer answered by one webrtc replica takes ICE candidates on the other; per-client limits count
across replicas; and with one replica of each killed, requests through the gateway still succeed: the gateway
sends a request a dead replica refused to the other one, and never resends one a replica received
(tests/test_durability.py), so a registration after the kill makes one voice print, not two."""

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import httpx
import pytest
import redis
import websockets

from tests.databases import fresh_postgres_database
from tests.gateway import gateway_process
from tests.processes import started_service
from tests.voice import clip
from tests.webrtc_peer import CallerPeer

pytestmark = pytest.mark.fleet

REDIS_URL = "redis://127.0.0.1:6379/8"
VOICE_PORTS = (8311, 8312)
WEBRTC_PORTS = (8313, 8314)
VOICECHAT_PORTS = (8315, 8316)
GATEWAY = {"main": 8324, "bridge": 8325, "speech": 8305, "ping": 8326}
WEBRTC_RATE_PER_MINUTE = 30
REFERENCE = "speaker/libri_testother_1998_1998-15444-0000.flac"
SAME_SPEAKER = "speaker/libri_testother_1998_1998-15444-0002.flac"
OTHER_SPEAKER = "speaker/libri_testother_2609_2609-156975-0001.flac"


def urls(ports: tuple[int, ...]) -> list[str]:
    return [f"http://127.0.0.1:{port}" for port in ports]


class Fleet:
    """The replicas (by service), their processes, and the gateway in front of them."""

    def __init__(self, gateway: str, processes: dict[str, list[subprocess.Popen]]) -> None:
        self.gateway = gateway
        self.ws_gateway = gateway.replace("http://", "ws://")
        self.processes = processes

    def kill(self, service: str, index: int) -> None:
        proc = self.processes[service][index]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def fleet(shared_redis: redis.Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    shared_data = tmp_path_factory.mktemp("shared-data")  # the volume every voice replica mounts
    common = {"REDIS_URL": REDIS_URL, "LOG_JSON": "false"}
    with fresh_postgres_database() as database, ExitStack() as stack:
        processes: dict[str, list[subprocess.Popen]] = {"voice": [], "webrtc": [], "voicechat": []}
        for port in VOICE_PORTS:
            env = {**common, "DATABASE_URL": database}
            processes["voice"].append(
                stack.enter_context(started_service("services.voice.main:app", port, shared_data, 90, **env))
            )
        for port in VOICECHAT_PORTS:
            env = {**common, "MAX_CLIENT_SESSIONS": "1"}
            data = tmp_path_factory.mktemp(f"voicechat-{port}")
            processes["voicechat"].append(
                stack.enter_context(started_service("services.voicechat.main:app", port, data, **env))
            )
        for port in WEBRTC_PORTS:
            env = {
                **common,
                "REPLICA_URL": f"http://127.0.0.1:{port}",
                # Straight to one orchestrator: a call between services does not pass the gateway's limits.
                "VOICECHAT_WS_URL": f"ws://127.0.0.1:{VOICECHAT_PORTS[0]}/ws/voice-chat",
                "RATE_LIMIT_PER_MINUTE": str(WEBRTC_RATE_PER_MINUTE),
                "DEFAULT_LANGUAGE": "en",
            }
            data = tmp_path_factory.mktemp(f"webrtc-{port}")
            processes["webrtc"].append(
                stack.enter_context(started_service("services.webrtc.main:app", port, data, **env))
            )
        gateway = stack.enter_context(
            gateway_process(
                tmp_path_factory.mktemp("gateway"),
                **GATEWAY,
                VOICE_URL=",".join(urls(VOICE_PORTS)),
                WEBRTC_URL=",".join(urls(WEBRTC_PORTS)),
                VOICECHAT_URL=",".join(urls(VOICECHAT_PORTS)),
            )
        )
        yield Fleet(gateway, processes)


@pytest.fixture
async def through_gateway(fleet: Fleet) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fleet.gateway, timeout=60) as client:
        yield client


async def test_a_voice_print_registered_on_one_replica_verifies_on_the_other(fleet: Fleet) -> None:
    first, second = urls(VOICE_PORTS)
    async with httpx.AsyncClient(timeout=60) as client:
        registered = await client.post(
            f"{first}/voice/register",
            files={"file": clip(REFERENCE)},
            data={"name": "Reader 1998", "description": "registered on the first replica"},
        )
        assert registered.status_code == 200, registered.text
        speaker_id = registered.json()["speaker_id"]
        verified = await client.post(
            f"{second}/voice/verify/{speaker_id}",
            files=[("files", clip(SAME_SPEAKER)), ("files", clip(OTHER_SPEAKER))],
        )
        assert verified.status_code == 200, verified.text
        assert [r["verdict"] for r in verified.json()["results"]] == ["ACCEPT", "REJECT"]
        listed = (await client.get(f"{second}/voice/speakers")).json()
        assert speaker_id in json.dumps(listed)
        assert (await client.delete(f"{second}/voice/speakers/{speaker_id}")).status_code in (200, 204)
        assert (await client.get(f"{first}/voice/speakers/{speaker_id}")).status_code == 404


async def test_an_offer_answered_by_one_replica_takes_ice_on_the_other(
    fleet: Fleet, shared_redis: redis.Redis, through_gateway: httpx.AsyncClient
) -> None:
    caller = CallerPeer(trickle=True)
    try:
        # The offer and its candidates go through the gateway; then every candidate again, straight to the
        # replica that does not hold the peer.
        answer = await caller.call(through_gateway, language="en")
        assert "voicefleet_webrtc" in through_gateway.cookies  # later signalling sticks to the owner
        owner = shared_redis.get(f"voicefleet:webrtc:peer:{answer['pc_id']}")
        assert owner is not None and owner.decode() in urls(WEBRTC_PORTS)
        (other,) = [url for url in urls(WEBRTC_PORTS) if url != owner.decode()]
        async with httpx.AsyncClient(base_url=other, timeout=30) as direct:
            for candidate in caller.candidates():
                reply = await direct.post("/ice", json={"pc_id": answer["pc_id"], "candidate": candidate})
                assert reply.status_code < 300, reply.text
            unknown = await direct.post("/ice", json={"pc_id": "no-such-peer", "candidate": None})
            assert unknown.status_code == 404
    finally:
        await caller.close()


async def test_the_request_rate_is_counted_across_replicas(fleet: Fleet) -> None:
    """One client, alternating between the two replicas: the budget is shared, and spent exactly."""
    first, second = urls(WEBRTC_PORTS)
    client_headers = {"X-Forwarded-For": "203.0.113.7"}  # as the gateway would set it
    async with httpx.AsyncClient(timeout=10, headers=client_headers) as client:
        statuses = [
            (await client.get(f"{(first, second)[i % 2]}/ice-servers")).status_code
            for i in range(WEBRTC_RATE_PER_MINUTE + 4)
        ]
        assert statuses == [200] * WEBRTC_RATE_PER_MINUTE + [429] * 4
        refused = await client.get(f"{first}/ice-servers")
        assert refused.json()["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
        other_client = await client.get(f"{second}/ice-servers", headers={"X-Forwarded-For": "203.0.113.8"})
        assert other_client.status_code == 200
        direct_call = await httpx.AsyncClient(timeout=10).get(f"{second}/ice-servers")  # no gateway, no limit
        assert direct_call.status_code == 200


async def open_session(url: str, client: str | None = None) -> websockets.ClientConnection:
    headers = {"X-Forwarded-For": client} if client else {}
    return await websockets.connect(url, additional_headers=headers, open_timeout=10)


async def assert_refused(ws: websockets.ClientConnection) -> None:
    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert event["type"] == "error" and event["code"] == "rate_limited", event
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 1013


async def assert_accepted(ws: websockets.ClientConnection) -> None:
    """The limiter refuses after the handshake (an error event, then 1013): an accepted session is one that
    answers its config with `ready`."""
    await ws.send(json.dumps({"type": "config", "language": "en"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "ready"}
    await ws.close()


async def test_open_sessions_are_counted_across_replicas(fleet: Fleet) -> None:
    first, second = (url.replace("http://", "ws://") + "/ws/voice-chat" for url in urls(VOICECHAT_PORTS))
    held = await open_session(first, "203.0.113.20")
    try:
        await assert_refused(await open_session(second, "203.0.113.20"))
        await assert_accepted(await open_session(second, "203.0.113.21"))
    finally:
        await held.close()
    await asyncio.sleep(0.5)  # the first replica releases the slot as the session ends
    await assert_accepted(await open_session(second, "203.0.113.20"))

    # Through the gateway the client is the address Traefik saw, whatever the client claims.
    gateway_url = f"{fleet.ws_gateway}/ws/voice-chat"
    held = await open_session(gateway_url, "198.51.100.1")
    try:
        await assert_refused(await open_session(gateway_url, "198.51.100.2"))
    finally:
        await held.close()


async def test_with_one_replica_of_each_killed_requests_still_succeed(
    fleet: Fleet, through_gateway: httpx.AsyncClient
) -> None:
    registered = await through_gateway.post(
        "/voice/register", files={"file": clip(REFERENCE)}, data={"name": "Reader 1998", "description": "before"}
    )
    assert registered.status_code == 200, registered.text
    speaker_id = registered.json()["speaker_id"]
    fleet.kill("voice", 0)
    fleet.kill("webrtc", 0)
    for _ in range(4):  # round robin would send every other request to the dead replicas
        verified = await through_gateway.post(f"/voice/verify/{speaker_id}", files=[("files", clip(SAME_SPEAKER))])
        assert verified.status_code == 200, verified.text
        assert verified.json()["results"][0]["verdict"] == "ACCEPT"
        assert (await through_gateway.get("/ice-servers")).status_code == 200
    names = [f"after the kill {i}" for i in range(2)]  # round robin: one of them is refused by the dead replica first
    for name in names:
        form = {"name": name, "description": "after"}
        response = await through_gateway.post("/voice/register", files={"file": clip(REFERENCE)}, data=form)
        assert response.status_code == 200, response.text
    listed = [s["name"] for s in (await through_gateway.get("/voice/speakers")).json()["speakers"]]
    assert [listed.count(name) for name in names] == [1, 1], listed
    caller = CallerPeer()
    try:
        answer = await caller.call(through_gateway, language="en")
        assert answer["type"] == "answer"
    finally:
        await caller.close()


async def test_the_gateway_limits_by_the_address_it_saw(fleet: Fleet, through_gateway: httpx.AsyncClient) -> None:
    """Claims in X-Forwarded-For do not reset the budget: the gateway's own record of the client counts."""
    statuses = []
    for i in range(WEBRTC_RATE_PER_MINUTE + 1):
        response = await through_gateway.get("/ice-servers", headers={"X-Forwarded-For": f"192.0.2.{i}"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {200}
