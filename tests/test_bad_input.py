"""Bad input through the gateway: a clear 4xx or an `error` event, and the connection serves the
next valid request."""

import json

import httpx
import pytest
import websockets

pytestmark = pytest.mark.fleet

TTS = "ws://127.0.0.1:8005/ws/tts"
SPEECH = "http://127.0.0.1:8005/v1/audio/speech"


async def test_tts_socket_refuses_text_that_is_not_unicode_and_keeps_serving(fleet: str) -> None:
    async with websockets.connect(TTS, max_size=2**22) as ws:
        await ws.send('{"target_text": "he\\ud800llo", "language": "en"}')
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and "surrogate" in error["message"]
        await ws.send("[" * 5000 + "]" * 5000)
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and "nested" in error["message"]
        await ws.send(json.dumps({"target_text": "he\u0000llo there", "language": "en"}))
        frames = 0
        while isinstance(message := await ws.recv(), bytes):
            frames += 1
        assert json.loads(message)["type"] == "end" and frames > 0


@pytest.mark.parametrize(("text", "status"), [("he\u0000llo", 200), ("he\ud800llo", 400)])
async def test_openai_speech_with_control_characters_or_surrogates(fleet: str, text: str, status: int) -> None:
    body = json.dumps({"input": text, "language": "en", "response_format": "wav"})  # json.dumps escapes the surrogate
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(SPEECH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["content-type"] == "audio/wav" and len(response.content) > 1000


@pytest.mark.parametrize("voice", ["?x=1#", "../../etc/passwd", "%2e%2e/x"])
async def test_openai_speech_with_a_url_like_voice_is_a_clear_4xx(fleet: str, voice: str) -> None:
    """Once answered 503 `busy` (retryable): the id went unencoded into the catalog's URL."""
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(SPEECH, json={"input": "hello", "voice": voice, "language": "en"})
    assert 400 <= response.status_code < 500, response.text
    assert "Retry-After" not in response.headers
