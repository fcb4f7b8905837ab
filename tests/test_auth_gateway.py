"""API keys through the repository's real Traefik configuration (its own ports) in front of a real catalog
process with keys on: the public routes need a key, /api/keys is routed and /internal/ is not, and neither
Traefik's access log nor the catalog's holds a key sent as ?api_key=.

Not through the `fleet` fixture: that one is `make run` (keys off) for the whole session, and a second fleet
with keys on would load every model again; the gateway and the catalog are what decide here."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.gateway import gateway_process
from tests.processes import service_process
from tests.scripted_llm import scripted_llm_server

ADMIN_KEY = "vf_gateway00001_" + "G" * 43
CATALOG_PORT = 8353
GATEWAY = {"main": 8354, "bridge": 8355, "speech": 8356, "ping": 8357}
SPEECH = f"http://127.0.0.1:{GATEWAY['speech']}"

pytestmark = pytest.mark.service  # processes of the fleet's behind the gateway (tts's engines, no ASR)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-gateway")


@pytest.fixture(scope="module")
def speech(work_dir: Path) -> Iterator[str]:
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN_KEY, "LOG_JSON": "false"}
    catalog = service_process("services.catalog.main:app", CATALOG_PORT, work_dir / "catalog", **env)
    with catalog as url, gateway_process(work_dir / "gateway", **GATEWAY, CATALOG_URL=url):
        yield SPEECH


def test_keys_through_the_gateway(speech: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    refused = httpx.get(f"{speech}/api/speakers")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    made = httpx.post(f"{speech}/api/keys", headers=admin, json={"user_id": "alice", "scopes": ["all"]})
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    assert httpx.get(f"{speech}/api/speakers", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(f"{speech}/api/keys", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert httpx.get(f"{speech}/api/keys", headers=admin).status_code == 200
    assert httpx.post(f"{speech}/internal/auth/verify", json={"key": key}).status_code == 404  # not routed


def test_a_query_key_is_in_no_log(speech: str, work_dir: Path) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    key = httpx.post(f"{speech}/api/keys", headers=admin, json={"user_id": "bob", "scopes": ["catalog"]}).json()["key"]
    answer = httpx.get(f"{speech}/api/speakers", params={"api_key": key, "language": "en"})
    assert answer.status_code == 200 and answer.json()["speakers"]
    assert httpx.get(f"{speech}/api/speakers", params={"api_key": key[:-1] + "!"}).status_code == 401
    gateway_log = (work_dir / "gateway" / "traefik.log").read_text()
    catalog_log = (work_dir / "catalog" / f"catalog-{CATALOG_PORT}.log").read_text()
    assert '"RequestPath":"/api/speakers"' in gateway_log  # the requests are logged, without their query
    assert "GET /api/speakers?language=en HTTP/1.1" in catalog_log  # the rest of the query stays
    for log in (gateway_log, catalog_log):
        assert key not in log and key[:-1] not in log and "api_key" not in log


CHAT_PORTS = {"tts": 8358, "voicechat": 8359, "llm": 8360}
SERVICE_TOKEN = "fleet-token-for-the-test-" + "t" * 20


@pytest.fixture(scope="module")
def chat_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The catalog, tts and voicechat with keys on and the fleet's token, behind the real gateway; a
    scripted LLM (the one service a user brings)."""
    work = tmp_path_factory.mktemp("auth-chat")
    keys_on = {"AUTH_REQUIRED": "true", "SERVICE_TOKEN": SERVICE_TOKEN, "ADMIN_API_KEY": ADMIN_KEY}
    catalog_url = f"http://127.0.0.1:{CATALOG_PORT + 20}"
    verify = {"AUTH_VERIFY_URL": f"{catalog_url}/internal/auth/verify", "CATALOG_URL": catalog_url}
    tts_url = f"http://127.0.0.1:{CHAT_PORTS['tts']}"
    with (
        scripted_llm_server(CHAT_PORTS["llm"]),
        service_process("services.catalog.main:app", CATALOG_PORT + 20, work / "catalog", **keys_on),
        service_process("services.tts.main:app", CHAT_PORTS["tts"], work / "tts", timeout=180, **keys_on, **verify),
        service_process(
            "services.voicechat.main:app",
            CHAT_PORTS["voicechat"],
            work / "voicechat",
            **keys_on,
            **verify,
            LLM_BASE_URL=f"http://127.0.0.1:{CHAT_PORTS['llm']}/v1",
            TTS_WS_URL=tts_url.replace("http", "ws") + "/ws/tts",
            ASR_WS_URL="ws://127.0.0.1:8297/ws/transcribe/vad",  # no ASR: the turn is typed
        ) as voicechat,
        gateway_process(work / "gateway", **GATEWAY_CHAT, VOICECHAT_URL=voicechat, CATALOG_URL=catalog_url),
    ):
        yield f"ws://127.0.0.1:{GATEWAY_CHAT['main']}/ws/voice-chat"


GATEWAY_CHAT = {"main": 8361, "bridge": 8362, "speech": 8363, "ping": 8364}


async def typed_turn(url: str, **connect: object) -> tuple[list[dict], int]:
    """A config and one typed turn: the events and the bytes of agent audio."""
    events, audio = [], 0
    async with websockets.connect(url, open_timeout=10, **connect) as ws:
        await ws.send(json.dumps({"type": "config", "language": "en"}))
        while (event := json.loads(await asyncio.wait_for(ws.recv(), 30)))["type"] != "ready":
            events.append(event)
        await ws.send(json.dumps({"type": "text_input", "text": "keys are on"}))
        while True:
            message = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(message, bytes):
                audio += len(message)
                continue
            events.append(event := json.loads(message))
            if event["type"] == "agent_end":
                return events, audio


@pytest.mark.slow  # four processes behind the gateway, tts loading every engine
async def test_a_chat_key_speaks_through_the_fleet_with_keys_on(chat_gateway: str) -> None:
    """A key with only the chat scope: the voice chat calls tts (and tts the catalog) on its behalf with the
    fleet's token, so the agent answers aloud; without a key the session is refused."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    catalog = f"http://127.0.0.1:{CATALOG_PORT + 20}"
    async with httpx.AsyncClient() as client:
        made = await client.post(f"{catalog}/api/keys", headers=admin, json={"user_id": "carol", "scopes": ["chat"]})
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    events, audio = await typed_turn(chat_gateway, additional_headers={"Authorization": f"Bearer {key}"})
    texts = [e["text"] for e in events if e["type"] == "agent_text"]
    assert "".join(texts).startswith("You said: keys are on"), events
    assert audio > 24_000 and not [e for e in events if e["type"] == "error" and e.get("source") == "tts"], events
    async with websockets.connect(chat_gateway, open_timeout=10) as ws:
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert refused["type"] == "error" and refused["code"] == "unauthorized" and closed.value.rcvd.code == 1008
