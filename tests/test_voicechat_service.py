"""The voice-chat app in process, its service swapped through `dependency_overrides`: what a session
is refused for before it reaches the ASR, the LLM or the TTS."""

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from services.voicechat.dependencies import get_voicechat
from services.voicechat.main import build_app
from services.voicechat.service import VoicechatService
from services.voicechat.settings import VoicechatSettings


@pytest.fixture
def service() -> VoicechatService:
    return VoicechatService(VoicechatSettings(max_sessions=1))


@pytest.fixture
def client(service: VoicechatService) -> Iterator[TestClient]:
    app = build_app()
    app.dependency_overrides[get_voicechat] = lambda: service
    with TestClient(app) as test_client:
        yield test_client


def refusal(client: TestClient, first: str | bytes) -> tuple[dict, int]:
    with client.websocket_connect("/ws/voice-chat") as ws:
        if isinstance(first, bytes):
            ws.send_bytes(first)
        else:
            ws.send_text(first)
        event = json.loads(ws.receive_text())
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return event, closed.value.code


@pytest.mark.parametrize(
    ("first", "needle"),
    [
        (b"\x00\x01", "not binary"),
        ("[" * 10_000 + "]" * 10_000, "nested"),
        ("not json", "not valid json"),
        ('{"type": "text_input", "text": "hi"}', "first message"),
        ('{"type": "config", "language": "de"}', "language"),
        ('{"type": "config", "user_system_prompt": "\\ud800"}', "surrogate"),
        ('{"type": "config", "llm_base_url": "http://169.254.169.254/latest"}', "llm_base_url"),
    ],
)
def test_a_bad_first_message_is_an_error_event_then_a_policy_close(client: TestClient, first, needle: str) -> None:
    event, code = refusal(client, first)
    assert event["type"] == "error" and event["source"] == "client", event
    assert needle in event["message"].lower(), event
    assert code == 1008


def test_a_full_replica_refuses_with_busy_and_try_again_later(client: TestClient, service: VoicechatService) -> None:
    service.sessions = service.settings.max_sessions
    event, code = refusal(client, '{"type": "config"}')
    assert (event["type"], event["code"], event["source"]) == ("error", "busy", "server")
    assert code == 1013


def test_refused_sessions_are_not_counted(client: TestClient, service: VoicechatService) -> None:
    for _ in range(3):
        refusal(client, "not json")
    assert service.sessions == 0
