"""The tts service's app in process: an unreachable catalog is a retryable 503 on the OpenAI route and
an error event on the socket, not a crash."""

from pathlib import Path

from tests.in_process import ServiceApp

DEAD_CATALOG_URL = "http://127.0.0.1:8298"  # nothing listens there during the tests


def test_an_unreachable_catalog_is_a_retryable_503_not_a_crash(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("tts", tmp_path, CATALOG_URL=DEAD_CATALOG_URL) as client:
        response = client.post("/v1/audio/speech", json={"input": "Good morning.", "language": "en"})
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "busy" and response.json()["retryable"] is True
        assert "catalog is unreachable" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) > 0
        with client.websocket_connect("/ws/tts") as ws:
            ws.send_json({"target_text": "Good morning.", "language": "en"})
            event = ws.receive_json()
        assert event["type"] == "error" and "catalog is unreachable" in event["message"], event
