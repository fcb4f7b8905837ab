"""End-of-turn latency with the stream turn model on and off, side by side in one run.

Usage: flock /tmp/fleet.lock .venv/bin/python bench/turn_model_latency.py [--turns 12] [--rounds 1]

1. WS /ws/transcribe/vad (bench/realtime_stream.py: the English clips at real-time pace, 1.5 s of silence
   after each; speech end = the clip's last speech sample by Silero VAD, on the microphone's clock):
   speech end → final, model on and `turn_model=false`, at silence_ms 300 (the ASR's default) and 500
   (the voice agent's), 1 and 4 concurrent streams, on the same fleet, alternating.
2. The voice agent (/ws/voice-chat, the scripted LLM answering instantly, Piper): speech end (Silero VAD,
   microphone clock) → first byte of the agent's audio, 1 session and 4 concurrent sessions, on a fleet
   with the model (the default) and then one with STREAM_TURN_MODEL=off.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from bench.realtime_stream import load_clips, one_stream, raw_engine_texts, summary
from bench.voicechat_latency import CHAT, CHUNK, CLIPS, LLM_URL, chunk_message, pcm
from tests.scripted_llm import scripted_llm_server

RATE = 16_000


def speech_end_s(speech: bytes) -> float:
    samples = np.frombuffer(speech, dtype="<i2").astype(np.float32) / 32768
    segments = get_speech_timestamps(samples, VadOptions(threshold=0.5, speech_pad_ms=0))
    return segments[-1]["end"] / RATE


async def play(ws, speech: bytes, stop: asyncio.Event) -> float:
    """Speech then silence on a microphone's clock until `stop`; returns when the first chunk left."""
    start = time.perf_counter()
    silence = bytes(CHUNK * 2)
    sent = 0
    while sent * CHUNK * 2 < len(speech) or not stop.is_set():
        data = speech[sent * CHUNK * 2 : (sent + 1) * CHUNK * 2] or silence
        await asyncio.sleep(max(0.0, start + sent * 0.1 - time.perf_counter()))
        await ws.send(chunk_message(data))
        sent += 1
    return start


async def agent_turn(ws, speech: bytes, end_s: float) -> float:
    """Speech end → the agent's first audio byte, in seconds."""
    stop = asyncio.Event()
    player = asyncio.create_task(play(ws, speech, stop))
    first_audio = None
    while True:
        message = await ws.recv()
        if isinstance(message, bytes):
            first_audio = first_audio or time.perf_counter()
        elif json.loads(message)["type"] == "agent_end":
            break
    stop.set()
    start = await player
    return first_audio - (start - 0.1 + end_s)


async def session(turns: int, offset: int) -> list[float]:
    speeches = [pcm(c) for c in CLIPS]
    async with websockets.connect(CHAT, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "config", "llm_base_url": LLM_URL, "language": "en"}))
        assert json.loads(await ws.recv())["type"] == "ready"
        picks = [speeches[(offset + i) % len(speeches)] for i in range(turns)]
        return [await agent_turn(ws, s, speech_end_s(s)) for s in picks]


def pcts(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.0f} | {np.percentile(ms, 95):.0f} | {len(ms)}"


async def streams(url: str, rounds: int) -> list[str]:
    clips = load_clips()
    raw = raw_engine_texts(clips)
    rows = []
    for silence_ms in (300, 500):
        for count in (1, 4):
            results = {"on": [], "off": []}
            for _ in range(rounds):
                for mode, extra in (("on", ""), ("off", "&turn_model=false")):
                    query = f"?silence_ms={silence_ms}{extra}"
                    results[mode] += await asyncio.gather(*(one_stream(url, clips, i * 2, query) for i in range(count)))
            s = {mode: summary(r, raw) for mode, r in results.items()}
            rows += [
                f"| {silence_ms} | {count} | {mode} | {s[mode]['p50']:.0f} | {s[mode]['p95']:.0f} | "
                f"{s[mode]['recall']:.3f} | {s[mode]['missed']} |"
                for mode in ("on", "off")
            ]
            rows.append(
                f"| {silence_ms} | {count} | on/off | {s['on']['p50'] / s['off']['p50']:.2f} | "
                f"{s['on']['p95'] / s['off']['p95']:.2f} | | |"
            )
    return rows


async def agent(turns: int) -> dict[int, list[float]]:
    out = {}
    for count in (1, 4):
        per_session = await asyncio.gather(*(session(turns, i) for i in range(count)))
        out[count] = [x for values in per_session for x in values]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    os.environ["ALLOWED_URLS"] = json.dumps([LLM_URL])
    os.environ.setdefault("FOLLOW_UP_AFTER_S", "600")
    agents, stream_rows = {}, []
    with scripted_llm_server():
        for mode in ("on", "off"):
            os.environ["STREAM_TURN_MODEL"] = "models/smart-turn-v3.2-cpu.onnx" if mode == "on" else "off"
            load = os.getloadavg()[0]
            with running_fleet(None) as url:
                if mode == "on":
                    stream_rows = asyncio.run(streams(url.replace("http", "ws", 1), args.rounds))
                agents[mode] = (asyncio.run(agent(args.turns)), f"{load:.1f}→{os.getloadavg()[0]:.1f}")
    print("Stream: speech end → final (ms)\n\n| silence_ms | streams | turn model | p50 | p95 | recall | missed |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(stream_rows))
    print("\nVoice agent: speech end → first agent audio (ms), scripted instant LLM, AGENT_SILENCE_MS 500\n")
    print("| sessions | turn model | p50 | p95 | turns | load |")
    print("|---|---|---|---|---|---|")
    for count in (1, 4):
        for mode in ("on", "off"):
            values, load = agents[mode]
            print(f"| {count} | {mode} | {pcts(values[count])} | {load} |")
        on, off = agents["on"][0][count], agents["off"][0][count]
        ratio = statistics.median(on) / statistics.median(off), np.percentile(on, 95) / np.percentile(off, 95)
        print(f"| {count} | on/off | {ratio[0]:.2f} | {ratio[1]:.2f} | | |")


if __name__ == "__main__":
    main()
