"""WebRTC voice agent: offer → connected, data channel round trip, and speech end → first agent audio,
side by side with the same conversation over WS /ws/voice-chat (the orchestrator the WebRTC service
bridges to), printing the ratios.

Usage: .venv/bin/python bench/webrtc.py [--turns 10]

Starts the fleet with a scripted OpenAI-compatible LLM that answers instantly as its default LLM, so the
numbers are the transport and the pipeline, not the model. Both sides use an aiortc-free definition of
"heard": the first 20 ms of agent audio with RMS above 300 (int16), at the time it plays — on the WebRTC
track when its frame arrives, on the WebSocket when the first audio chunk arrives plus the offset of that
window in the reply. "Speech end" is when the last sample of the clip left the client's microphone.
The data channel round trip is text sent → first `agent_text` back (the scripted LLM adds nothing).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from bench.voicechat_latency import play
from tests.audio_files import read_mono
from tests.scripted_llm import scripted_llm_server
from tests.webrtc_peer import VOICE_RMS, CallerPeer

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
CLIPS = [f"asr/sb_spk{s}_snt{n}.wav" for s in (1, 2) for n in (1, 2, 3)]
LLM_URL = "http://127.0.0.1:8299/v1"
CHAT = "ws://127.0.0.1:8124/ws/voice-chat"
AGENT_WINDOW = 480  # 20 ms at 24 kHz


async def within(waiting, seconds: float = 30):
    """A step of the benchmark that must finish in `seconds` (a stuck run fails instead of hanging)."""
    return await asyncio.wait_for(waiting, seconds)


def p50_p95(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), float(np.percentile(values, 95))


def first_loud_offset_s(pcm: bytes) -> float | None:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    for start in range(0, samples.size - AGENT_WINDOW + 1, AGENT_WINDOW):
        if np.sqrt(np.mean(samples[start : start + AGENT_WINDOW] ** 2)) > VOICE_RMS:
            return start / 24_000
    return None


# -- WebRTC ------------------------------------------------------------------------------------
async def webrtc_session(client: httpx.AsyncClient, speeches: list[np.ndarray], turns: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"round_trip": [], "heard": []}
    caller = CallerPeer()
    await caller.call(client, language="en")
    await within(caller.connected.wait())
    await within(caller.channel_open.wait())
    for i in range(turns):
        sent = time.perf_counter()
        caller.channel.send(f"Hello number {i}")
        await caller.next_event("agent_text")
        out["round_trip"].append(time.perf_counter() - sent)
        print(f"webrtc text turn {i}: {out['round_trip'][-1]:.3f} s to the first agent_text", flush=True)
        await caller.next_event("agent_end")
        await asyncio.sleep(3)  # let the reply play out
    for i in range(turns):
        caller.listen()
        caller.mic.say(speeches[i % len(speeches)])
        await within(caller.mic.spoken.wait())
        speech_end = time.monotonic()
        await within(caller.voice_heard.wait())
        out["heard"].append(caller.first_voice_at - speech_end)
        print(f"webrtc turn {i}: {out['heard'][-1]:.3f} s to the agent's voice", flush=True)
        await caller.next_event("agent_end")
        await asyncio.sleep(3)
    await caller.close()
    return out


async def webrtc_connects(client: httpx.AsyncClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        caller = CallerPeer()
        started = time.perf_counter()
        await caller.call(client, language="en")
        await within(caller.connected.wait())
        await within(caller.channel_open.wait())
        times.append(time.perf_counter() - started)
        await caller.close()
    return times


# -- the same over WS /ws/voice-chat -----------------------------------------------------------
async def ws_reply(ws: websockets.ClientConnection) -> tuple[float | None, float | None, bytes]:
    """(time of the first agent_text, time of the first audio chunk, the reply's audio) until agent_end."""
    first_text = first_audio = None
    audio = b""
    while True:
        message = await ws.recv()
        now = time.perf_counter()
        if isinstance(message, bytes):
            first_audio = first_audio or now
            audio += message
        else:
            kind = json.loads(message)["type"]
            if kind == "agent_text":
                first_text = first_text or now
            elif kind == "agent_end":
                return first_text, first_audio, audio


async def ws_session(speeches: list[np.ndarray], turns: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"connect": [], "round_trip": [], "heard": []}
    started = time.perf_counter()
    async with websockets.connect(CHAT, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "config", "language": "en"}))
        assert json.loads(await ws.recv())["type"] == "ready"
        out["connect"].append(time.perf_counter() - started)
        for i in range(turns):
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "text_input", "text": f"Hello number {i}"}))
            first_text, _, _ = await within(ws_reply(ws))
            out["round_trip"].append(first_text - sent)
            print(f"ws text turn {i}: {first_text - sent:.3f} s to the first agent_text", flush=True)
            await asyncio.sleep(3)
        for i in range(turns):
            pcm = (np.clip(speeches[i % len(speeches)], -1, 1) * 32767).astype("<i2").tobytes()
            replied = asyncio.Event()  # until then the microphone goes on with silence
            reply = asyncio.create_task(ws_reply(ws))
            reply.add_done_callback(lambda _, done=replied: done.set())
            speech_end = await play(ws, pcm, replied)
            _, first_audio, audio = await reply
            print(f"ws turn {i}: {first_audio - speech_end:.3f} s to the first audio", flush=True)
            out["heard"].append(first_audio + first_loud_offset_s(audio) - speech_end)
            await asyncio.sleep(3)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    os.environ["LLM_BASE_URL"] = LLM_URL
    os.environ.setdefault("FOLLOW_UP_AFTER_S", "600")
    os.environ.setdefault("INACTIVITY_TIMEOUT_S", "600")
    speeches = [read_mono((DATA / clip).read_bytes()) for clip in CLIPS]
    with scripted_llm_server(), running_fleet(None) as gateway:
        async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
            connects = await webrtc_connects(client, args.turns)
            rtc = await webrtc_session(client, speeches, args.turns)
        ws = await ws_session(speeches, args.turns)
    print(f"{args.turns} turns each, scripted LLM (instant), Piper en, through the gateway")
    print("| measure | WebRTC p50 | WebRTC p95 | WS p50 | WS p95 | WebRTC / WS (p50) |")
    print("|---|---|---|---|---|---|")
    rows = [
        ("offer → connected + channel open (WS: connect + ready)", connects, ws["connect"]),
        ("text sent → first agent_text", rtc["round_trip"], ws["round_trip"]),
        ("speech end → agent audio heard", rtc["heard"], ws["heard"]),
    ]
    for name, webrtc_values, ws_values in rows:
        r50, r95 = p50_p95([v * 1000 for v in webrtc_values])
        w50, w95 = p50_p95([v * 1000 for v in ws_values])
        print(f"| {name} | {r50:.0f} ms | {r95:.0f} ms | {w50:.0f} ms | {w95:.0f} ms | {r50 / w50:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
