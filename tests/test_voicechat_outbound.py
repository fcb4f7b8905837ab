"""Client-chosen URLs against real servers the test owns: the voice-chat app in process (its service with
the test's settings), a server that 302-redirects to a loopback port whose connections are counted, and
OpenAI-compatible LLMs that record the Authorization header. Redirects are errors and never followed,
refused URLs connect nowhere, and the server's LLM key reaches the configured LLM only."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from services.voicechat.addresses import OutboundRefused, Target
from services.voicechat.dependencies import get_voicechat
from services.voicechat.main import build_app
from services.voicechat.outbound import open_websocket
from services.voicechat.service import VoicechatService
from services.voicechat.settings import VoicechatSettings
from services.voicechat.urls import Endpoint
from tests.outbound_servers import ConnectionCounter, RecordingLlm, Redirector, closed_port

pytestmark = pytest.mark.service
SERVER_KEY = "sk-server-only-5f3a"


@dataclass
class Servers:
    target: ConnectionCounter  # where every redirect points
    redirector: Redirector
    configured_llm: RecordingLlm  # LLM_BASE_URL
    client_llm: RecordingLlm  # an allowlisted URL a client may pick
    dead_port: int  # the configured ASR and TTS: nothing listens


@pytest.fixture
def servers() -> Iterator[Servers]:
    target = ConnectionCounter()
    redirector, configured, client = Redirector(target.port), RecordingLlm(), RecordingLlm()
    with closed_port() as dead:
        yield Servers(target, redirector, configured, client, dead)
    for server in (redirector, configured, client, target):
        server.close()


@pytest.fixture
def client(servers: Servers) -> Iterator[TestClient]:
    settings = VoicechatSettings(
        _env_file=None,
        llm_base_url=f"http://127.0.0.1:{servers.configured_llm.port}/v1",
        llm_api_key=SERVER_KEY,
        asr_ws_url=f"ws://127.0.0.1:{servers.dead_port}/ws/transcribe/vad",
        tts_ws_url=f"ws://127.0.0.1:{servers.dead_port}/ws/tts",
        allowed_urls=[
            f"http://127.0.0.1:{servers.redirector.port}/v1",
            f"ws://127.0.0.1:{servers.redirector.port}/",
            f"http://127.0.0.1:{servers.client_llm.port}/v1",
            f"http://localhost:{servers.configured_llm.port}/named",
            "http://*.example.invalid/v1",  # names no address: a host under it is resolved, and refused if private
        ],
    )
    app = build_app()
    app.dependency_overrides[get_voicechat] = lambda: VoicechatService(settings)
    with TestClient(app) as test_client:
        yield test_client


def turn_events(client: TestClient, config: dict, text: str = "hi") -> list[dict]:
    """The events of a session with `config` through one text turn (ready, the ASR's error, the turn)."""
    events = []
    with client.websocket_connect("/ws/voice-chat") as ws:
        ws.send_text(json.dumps({"type": "config", **config}))
        while (event := ws.receive_json())["type"] != "ready":
            events.append(event)
        ws.send_text(json.dumps({"type": "text_input", "text": text}))
        while (event := ws.receive_json())["type"] != "agent_end":
            events.append(event)
        ws.send_text(json.dumps({"type": "end"}))
    return events


def errors(events: list[dict], source: str) -> list[str]:
    return [e["message"] for e in events if e["type"] == "error" and e.get("source") == source]


def refused_at_config(client: TestClient, config: dict) -> tuple[dict, int]:
    with client.websocket_connect("/ws/voice-chat") as ws:
        ws.send_text(json.dumps({"type": "config", **config}))
        event = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return event, closed.value.code


def test_an_llm_redirect_is_an_llm_error_and_never_followed(client: TestClient, servers: Servers) -> None:
    events = turn_events(client, {"llm_base_url": f"http://127.0.0.1:{servers.redirector.port}/v1"})
    (message,) = errors(events, "llm")
    assert "302" in message and "redirect" in message, message
    assert len(servers.redirector.requests) == 1
    assert servers.redirector.requests[0].get("authorization") is None  # the redirector is a client's URL
    assert servers.target.connections == 0


def test_an_asr_redirect_is_an_asr_error_and_never_followed(client: TestClient, servers: Servers) -> None:
    events = turn_events(client, {"asr_ws_url": f"ws://127.0.0.1:{servers.redirector.port}/ws/transcribe/vad"})
    assert any("302" in m and "redirects are not followed" in m for m in errors(events, "asr")), events
    assert len(servers.redirector.requests) == 1
    assert servers.target.connections == 0


def test_a_tts_redirect_is_a_tts_error_and_the_configured_llm_gets_the_key(
    client: TestClient, servers: Servers
) -> None:
    events = turn_events(client, {"tts_ws_url": f"ws://127.0.0.1:{servers.redirector.port}/ws/tts"})
    assert any("302" in m for m in errors(events, "tts")), events
    assert servers.target.connections == 0
    assert servers.configured_llm.authorizations == [f"Bearer {SERVER_KEY}"]


def test_a_client_llm_url_gets_no_key(client: TestClient, servers: Servers, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")  # the openai package's fallback
    events = turn_events(client, {"llm_base_url": f"http://127.0.0.1:{servers.client_llm.port}/v1"})
    assert [e["text"] for e in events if e["type"] == "agent_text"] == ["Hello there."]
    assert servers.client_llm.authorizations == [None]
    assert not any("organization" in name or "project" in name for name in servers.client_llm.requests[0])
    assert servers.configured_llm.requests == []


def test_a_named_host_name_reaches_loopback(client: TestClient, servers: Servers) -> None:
    """`localhost` is named in the allowlist, so its loopback address is admitted (and it is not the
    configured URL, so it gets no key)."""
    events = turn_events(client, {"llm_base_url": f"http://localhost:{servers.configured_llm.port}/named"})
    assert [e["text"] for e in events if e["type"] == "agent_text"] == ["Hello there."]
    assert servers.configured_llm.authorizations == [None]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://localhost:{llm}/v1", "allowlist"),  # resolves to 127.0.0.1, but that entry names 127.0.0.1
        ("http://127.0.0.1:{llm}@127.0.0.1:{target}/v1", "user information"),
        ("http://127.0.0.1:{llm}/v1/../../v2", "segments"),
        ("http://127.0.0.1:{llm}/v1/%2e%2e/v2", "segments"),
        ("http://127.0.0.1:{llm}/v1/%2E./v2", "segments"),
        ("http://127.0.0.1:{llm}/v1%2f..%2fv2", "encoded-slash"),
        ("http://127.0.0.1:{llm}/v1#frag", "fragment"),
        ("http://2130706433:{llm}/v1", "dotted-quad"),
    ],
)
def test_refused_urls_connect_nowhere(client: TestClient, servers: Servers, url: str, needle: str) -> None:
    url = url.format(llm=servers.client_llm.port, target=servers.target.port)
    event, code = refused_at_config(client, {"llm_base_url": url})
    assert (event["type"], event["source"], code) == ("error", "client", 1008), event
    assert needle in event["message"], event
    assert servers.client_llm.requests == [] and servers.target.connections == 0


def test_an_address_refused_is_the_configs_error_not_one_after_ready(client: TestClient, servers: Servers) -> None:
    """A client's URL whose host cannot be reached (here: it does not resolve) is refused before `ready`."""
    event, code = refused_at_config(client, {"llm_base_url": "http://llm.example.invalid/v1"})
    assert (event["type"], event["source"], code) == ("error", "client", 1008), event
    assert "cannot resolve llm.example.invalid" in event["message"], event


async def test_websocket_redirects_are_refused_for_the_configured_urls_too(servers: Servers) -> None:
    for endpoint in (
        Endpoint(f"ws://127.0.0.1:{servers.redirector.port}/ws/tts"),
        Endpoint(f"ws://127.0.0.1:{servers.redirector.port}/x", Target("127.0.0.1", servers.redirector.port, True)),
    ):
        with pytest.raises(OutboundRefused, match="HTTP 302"):
            await open_websocket(endpoint, open_timeout=5)
    assert len(servers.redirector.requests) == 2 and servers.target.connections == 0


async def test_a_host_whose_address_is_refused_is_never_connected_to(servers: Servers) -> None:
    """`localhost` through a wildcard entry (not named): resolved, found loopback, refused before any
    connection; the counter listens on that very address and port."""
    target = Target("localhost", servers.target.port, named=False)
    with pytest.raises(OutboundRefused, match="loopback"):
        await open_websocket(Endpoint(f"ws://localhost:{servers.target.port}/", target), open_timeout=5)
    assert servers.target.connections == 0
