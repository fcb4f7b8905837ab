"""`make run` keeps serving when one of its processes dies: supervisord restarts it, the others go on
answering through the gateway, and a voice-chat session that depended on it gets an `error` event
naming the source, then works again once the process is back."""

import asyncio
import contextlib
import json
import signal
import time

import httpx
import psutil
import pytest
import websockets

from tests.conftest import DATA
from tests.test_voicechat import CHAT, CHUNK, agent_text, events, pcm_of, send_audio, until

pytestmark = pytest.mark.fleet

RESTART_WITHIN_S = 30
# One cheap request per service through the gateway, and the process's own health URL.
THROUGH_GATEWAY = {
    "asr": ("POST", "http://127.0.0.1:8124/transcribe"),
    "voice": ("GET", "http://127.0.0.1:8124/voice/speakers"),
    "webrtc": ("GET", "http://127.0.0.1:8124/ice-servers"),
    "catalog": ("GET", "http://127.0.0.1:8005/api/speakers"),
    "tts": ("POST", "http://127.0.0.1:8005/v1/audio/speech"),
}
OWN_PORT = {"llm": 8210, "tts": 8202, "asr": 8201}


def listening_pid(port: int) -> int:
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    raise AssertionError(f"nothing listens on :{port}")


def kill(name: str) -> None:
    process = psutil.Process(listening_pid(OWN_PORT[name]))
    process.send_signal(signal.SIGKILL)
    process.wait(10)


async def answer(client: httpx.AsyncClient, service: str) -> int:
    method, url = THROUGH_GATEWAY[service]
    if service == "asr":
        files = {"file": ("one.wav", (DATA / "asr/en_one_two_three.wav").read_bytes(), "audio/wav")}
        return (await client.post(url, files=files, data={"language": "en"})).status_code
    if service == "tts":
        return (
            await client.post(url, json={"input": "Hello.", "language": "en", "response_format": "pcm"})
        ).status_code
    return (await client.request(method, url)).status_code


async def others_answer(killed: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for service in THROUGH_GATEWAY:
            if service != killed:
                assert await answer(client, service) == 200, f"{service} stopped answering after {killed} died"


async def gateway_answers_again(service: str, started: float) -> None:
    """The gateway's health check may have marked the service down meanwhile; it must route to it again
    within the same budget."""
    async with httpx.AsyncClient(timeout=30) as client:
        while await answer(client, service) != 200:
            assert time.monotonic() - started < RESTART_WITHIN_S, f"the gateway does not reach {service} again"
            await asyncio.sleep(0.5)


async def recovered(name: str, attempt) -> float:
    """Seconds until `attempt()` (a request through the session) succeeds again after `name` was killed.
    Trying keeps the session active, so its inactivity timeout does not end it meanwhile."""
    started = time.monotonic()
    while time.monotonic() - started < RESTART_WITHIN_S:
        if await attempt():
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise AssertionError(f"{name} did not serve the session again within {RESTART_WITHIN_S} s of SIGKILL")


def errors(received: list) -> list[str]:
    return [item["source"] for item in received if isinstance(item, dict) and item["type"] == "error"]


async def turn(ws: websockets.ClientConnection, text: str = "Say hello in one short sentence.") -> list:
    await ws.send(json.dumps({"type": "text_input", "text": text}))
    return await until(ws, "agent_end", within_s=60)


async def heard(ws: websockets.ClientConnection) -> bool:
    """Speech in, a final transcript with text out (within 10 s of the clip's end)."""
    await send_audio(ws, pcm_of("asr/sb_spk1_snt1.wav") + bytes(CHUNK * 2 * 10))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while True:
                message = await ws.recv()
                item = None if isinstance(message, bytes) else json.loads(message)
                if item and item["type"] == "transcript" and item.get("is_final") and item.get("text"):
                    return True
    return False


async def test_killed_llm_tts_and_asr_are_errors_then_come_back(fleet: str) -> None:
    # max_queue=None: the client keeps reading (and dropping) agent audio while it closes, as a browser does.
    ws = await websockets.connect(CHAT, max_size=2**22, max_queue=None)
    await ws.send(json.dumps({"type": "config", "language": "en"}))  # the fleet's default LLM
    assert json.loads(await ws.recv()) == {"type": "ready"}

    kill("llm")
    received = await turn(ws, "Say hello.")
    assert errors(received) == ["llm"], events(received)
    await others_answer("llm")

    async def llm_answers() -> bool:
        received = await turn(ws)
        return not errors(received) and bool(agent_text(received))

    await recovered("llm", llm_answers)

    kill("tts")
    started = time.monotonic()
    received = await turn(ws)
    assert errors(received) == ["tts"], events(received)
    assert agent_text(received)  # the reply's text still arrives
    await others_answer("tts")

    async def tts_speaks() -> bool:
        received = await turn(ws)
        return not errors(received) and "audio" in events(received)

    await recovered("tts", tts_speaks)
    await gateway_answers_again("tts", started)

    await send_audio(ws, bytes(CHUNK * 2 * 5))  # the session's ASR stream is open
    kill("asr")
    started = time.monotonic()
    received = await until(ws, "error", within_s=15)
    assert errors(received) == ["asr"], events(received)
    await others_answer("asr")

    async def asr_ready() -> bool:
        await turn(ws, "Are you there?")  # typing keeps the session active while the ASR restarts
        async with httpx.AsyncClient(timeout=2) as client:
            with contextlib.suppress(httpx.HTTPError):
                return (await client.get("http://127.0.0.1:8201/readyz")).status_code == 200
        return False

    await recovered("asr", asr_ready)
    assert await heard(ws), "the session does not hear speech again after the ASR came back"
    await gateway_answers_again("asr", started)
    await ws.close()
    assert ws.close_code == 1000, (ws.close_code, ws.close_reason)
