"""Hostile frames on every WebSocket endpoint, through the gateway: each one gets an `error` event and the
socket stays open, then serves a valid request (issue 20's list: non-JSON, large frames, deep nesting,
wrong types, bad base64, odd byte counts, path-like ids, unknown types, binary). A frame over 1 MiB is
closed with 1009 (message too big) before it is read."""

import asyncio
import base64
import json
from collections.abc import Iterator

import numpy as np
import pytest
import websockets

from tests.audio_files import read_mono
from tests.conftest import DATA, SCRIPTED_LLM_URL
from tests.scripted_llm import ScriptedLlm, scripted_llm_server
from tests.streaming import audio_message

pytestmark = pytest.mark.fleet

MAX_FRAME = 1024 * 1024  # uvicorn's --ws-max-size in the Procfile and the Dockerfiles
LARGE = 900 * 1024  # a large frame under the cap: an error event
ODD_PCM = base64.b64encode(b"\x01\x02\x03").decode()
COMMON_FRAMES = {
    "not JSON": "{this is not json",
    "a JSON array": "[1, 2, 3]",
    "10,000-deep nesting": "[" * 10_000 + "]" * 10_000,
    "binary": b"\x00\x01\x02",
    "unknown type": json.dumps({"type": "dance"}),
    "a wrong type": json.dumps({"type": 5}),
}
AUDIO_FRAMES = {
    "bad base64": json.dumps({"audio_event": {"audio_base_64": "%%% not base64 %%%"}}),
    "an odd byte count": json.dumps({"audio_event": {"audio_base_64": ODD_PCM}}),
    "audio_event of the wrong type": json.dumps({"audio_event": "x"}),
    "a 900 kB audio frame": json.dumps({"audio_event": {"audio_base_64": "A" * LARGE}}),
}


@pytest.fixture(scope="module")
def llm(fleet: str) -> Iterator[ScriptedLlm]:
    with scripted_llm_server() as server:
        yield server


async def expect_error(ws: websockets.ClientConnection, name: str) -> dict:
    """The next text event, which must be an error; binary frames (agent audio) are skipped."""
    while isinstance(message := await ws.recv(), bytes):
        pass
    event = json.loads(message)
    assert event["type"] == "error" and event["message"], (name, event)
    return event


async def send_each(ws: websockets.ClientConnection, frames: dict[str, str | bytes]) -> None:
    for name, frame in frames.items():
        await ws.send(frame)
        await expect_error(ws, name)


async def test_transcribe_stream_answers_every_bad_frame_then_transcribes(fleet: str) -> None:
    speech = read_mono((DATA / "asr/sb_spk2_snt2.wav").read_bytes())
    async with websockets.connect("ws://127.0.0.1:8124/ws/transcribe/vad", max_size=2**22) as ws:
        await send_each(ws, COMMON_FRAMES | AUDIO_FRAMES)
        await send_each(ws, {"an unknown language": json.dumps({"type": "config", "language": "xx"})})
        audio = np.concatenate([speech, np.zeros(16_000, np.float32)])
        for offset in range(0, audio.size, 1600):
            await ws.send(audio_message(audio[offset : offset + 1600]))
        await ws.send(json.dumps({"type": "end"}))
        finals = [e for m in [m async for m in ws] if (e := json.loads(m)).get("is_final")]
    assert finals and "joy" in finals[0]["text"].lower(), finals
    assert ws.close_code == 1000


async def test_tts_answers_every_bad_frame_then_speaks(fleet: str) -> None:
    frames = COMMON_FRAMES | {
        "target_text of the wrong type": json.dumps({"target_text": 5}),
        "a 900 kB target_text": json.dumps({"target_text": "a" * LARGE}),
        "a path-like speaker_id": json.dumps({"target_text": "hi", "speaker_id": "../../etc/passwd"}),
        "a path-like collection_id": json.dumps({"target_text": "hi", "collection_id": "..%2f..%2fx"}),
        "an unknown language": json.dumps({"target_text": "hi", "language": "xx"}),
    }
    async with websockets.connect("ws://127.0.0.1:8005/ws/tts", max_size=2**22) as ws:
        await send_each(ws, frames)
        await ws.send(json.dumps({"target_text": "Hello there.", "language": "en"}))
        audio = 0
        while isinstance(message := await ws.recv(), bytes):
            audio += len(message)
    assert json.loads(message)["type"] == "end" and audio > 24_000  # more than half a second of speech


async def test_voice_chat_answers_every_bad_frame_then_replies(llm: ScriptedLlm) -> None:
    wrong_text = {"text_input of the wrong type": json.dumps({"type": "text_input", "text": 5})}
    frames = COMMON_FRAMES | AUDIO_FRAMES | wrong_text
    async with websockets.connect("ws://127.0.0.1:8124/ws/voice-chat", max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "config", "llm_base_url": SCRIPTED_LLM_URL, "language": "en"}))
        assert json.loads(await ws.recv()) == {"type": "ready"}
        for name, frame in frames.items():
            await ws.send(frame)
            assert (await expect_error(ws, name))["source"] == "client", name
        await ws.send(json.dumps({"type": "text_input", "text": "Still there"}))
        shown = ""
        while True:
            message = await ws.recv()
            event = {} if isinstance(message, bytes) else json.loads(message)
            shown += event.get("text", "") if event.get("type") == "agent_text" else ""
            if event.get("type") == "agent_end":
                break
    assert shown == "You said: Still there. Thanks."


@pytest.mark.parametrize(
    "url",
    ["ws://127.0.0.1:8124/ws/transcribe/vad", "ws://127.0.0.1:8005/ws/tts", "ws://127.0.0.1:8124/ws/voice-chat"],
)
async def test_a_5_mb_frame_is_closed_as_too_big_and_the_endpoint_serves_the_next_client(fleet: str, url: str) -> None:
    async with websockets.connect(url, max_size=2**23) as ws:
        await ws.send(json.dumps({"type": "end", "pad": "x" * (5 * MAX_FRAME)}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1009
    async with websockets.connect(url) as again:
        await again.send("not json")
        assert json.loads(await asyncio.wait_for(again.recv(), 10))["type"] == "error"
