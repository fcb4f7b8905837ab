"""Voice agent latency: end of the user's speech → first byte of the agent's audio, per stage.

Usage: .venv/bin/python bench/voicechat_latency.py [--turns 20] [--chunk-delay-ms 0]

Starts the fleet (with the scripted LLM on the allowlist) and a scripted OpenAI-compatible LLM that
answers instantly (`--chunk-delay-ms`: streams its reply 4 characters at a time, as a real LLM's tokens
come; the first sentence, "You said: <the transcript>.", then takes ~12 chunks), then plays real speech
clips into /ws/voice-chat through the gateway on a microphone's clock (100 ms chunks every 100 ms, then
silence until the agent answers). Per turn:
ASR final (speech end → final transcript), LLM first token and TTS first frame (the service's
`latency` events), and the total to the first audio byte; p50 and p95, then each clip's turns. "Speech end" is when the
clip's last chunk was sent (the clips end with a little silence, so the ASR can finish before it).
Then barge-in: from the onset of speech (Silero VAD) sent while the agent speaks to `interrupted` (it includes
the 200 ms of speech the detector waits for), p50 and p95 over the same number of tries.
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from tests.audio_files import read_mono
from tests.scripted_llm import scripted_llm_server

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
CLIPS = [f"asr/sb_spk{s}_snt{n}.wav" for s in (1, 2) for n in (1, 2, 3)]
CHUNK = 1600  # 100 ms
LLM_URL = "http://127.0.0.1:8299/v1"
CHAT = "ws://127.0.0.1:8124/ws/voice-chat"


def pcm(relative: str) -> bytes:
    return (np.clip(read_mono((DATA / relative).read_bytes()), -1, 1) * 32767).astype("<i2").tobytes()


def chunk_message(data: bytes) -> str:
    return json.dumps({"audio_event": {"audio_base_64": base64.b64encode(data).decode()}})


def onset_s(speech: bytes) -> float:
    """Where the clip's speech starts, by Silero VAD (a click before the first word does not count)."""
    samples = np.frombuffer(speech, dtype="<i2").astype(np.float32) / 32768
    segments = get_speech_timestamps(samples, VadOptions(threshold=0.5, speech_pad_ms=0))
    return segments[0]["start"] / 16000 if segments else 0.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def play(ws: websockets.ClientConnection, speech: bytes, stop: asyncio.Event) -> float:
    """Send speech then silence on a microphone's clock until `stop`; returns when speech ended."""
    clock = time.perf_counter()
    for start in range(0, len(speech), CHUNK * 2):
        await ws.send(chunk_message(speech[start : start + CHUNK * 2]))
        clock += 0.1
        await asyncio.sleep(max(0.0, clock - time.perf_counter()))
    speech_end = time.perf_counter()
    silence = bytes(CHUNK * 2)
    while not stop.is_set():
        await ws.send(chunk_message(silence))
        clock += 0.1
        await asyncio.sleep(max(0.0, clock - time.perf_counter()))
    return speech_end


async def turn(ws: websockets.ClientConnection, speech: bytes) -> dict[str, float]:
    stop = asyncio.Event()
    player = asyncio.create_task(play(ws, speech, stop))
    marks: dict[str, float] = {}
    while True:
        message = await ws.recv()
        now = time.perf_counter()
        if isinstance(message, bytes):
            marks.setdefault("audio", now)
            continue
        event = json.loads(message)
        if event["type"] == "transcript" and event["is_final"]:
            marks.setdefault("final", now)
        elif event["type"] == "latency":
            marks[event["step"]] = float(event["value"].removesuffix("ms")) / 1000
        elif event["type"] == "agent_end":
            break
    stop.set()
    speech_end = await player
    return {
        "asr_final": marks["final"] - speech_end,
        "llm": marks["llm"],
        "tts_first": marks["tts_first"],
        "total": marks["audio"] - speech_end,
    }


async def barge_in(ws: websockets.ClientConnection, speech: bytes) -> float:
    await ws.send(json.dumps({"type": "text_input", "text": "Tell me a story"}))
    while not isinstance(await ws.recv(), bytes):
        pass
    started = time.perf_counter()
    stop = asyncio.Event()
    player = asyncio.create_task(play(ws, speech, stop))
    while True:
        message = await ws.recv()
        if isinstance(message, str) and json.loads(message)["type"] == "interrupted":
            reaction = time.perf_counter() - started - onset_s(speech)
            break
    while True:  # the interrupting speech becomes the next turn; let it finish
        message = await ws.recv()
        if isinstance(message, str) and json.loads(message)["type"] == "agent_end":
            break
    stop.set()
    await player
    return reaction


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=0.0, help="the scripted LLM streams 4 characters per this many ms"
    )
    args = parser.parse_args()
    os.environ["ALLOWED_URLS"] = json.dumps([LLM_URL])
    os.environ.setdefault("FOLLOW_UP_AFTER_S", "600")

    speeches = [pcm(c) for c in CLIPS]
    with scripted_llm_server(token_delay_s=args.chunk_delay_ms / 1000), running_fleet(None):
        async with websockets.connect(CHAT, max_size=2**22) as ws:
            await ws.send(json.dumps({"type": "config", "llm_base_url": LLM_URL, "language": "en"}))
            assert json.loads(await ws.recv())["type"] == "ready"
            results = [await turn(ws, speeches[i % len(speeches)]) for i in range(args.turns)]
            for i, result in enumerate(results):
                result["clip"] = CLIPS[i % len(CLIPS)]
            reactions = [await barge_in(ws, speeches[i % len(speeches)]) for i in range(args.turns)]
    silence_ms = int(os.environ.get("AGENT_SILENCE_MS", "500"))
    pace = f"4 characters per {args.chunk_delay_ms:g} ms" if args.chunk_delay_ms else "instant"
    print(f"{args.turns} turns, silence_ms {silence_ms}, scripted LLM ({pace}), Piper en")
    print("| stage | p50 | p95 |")
    print("|---|---|---|")
    for stage in ("asr_final", "llm", "tts_first", "total"):
        values = [r[stage] * 1000 for r in results]
        print(f"| {stage} | {statistics.median(values):.0f} ms | {percentile(values, 95):.0f} ms |")
    values = [r * 1000 for r in reactions]
    print(f"| speech onset → interrupted | {statistics.median(values):.0f} ms | {percentile(values, 95):.0f} ms |")
    per_clip(results)


def per_clip(results: list[dict]) -> None:
    """Each clip's turns: where a late turn's time goes (ASR final, or after it)."""
    print("\n| clip | turns | ASR final ms (each turn) | first audio ms (each turn) |")
    print("|---|---|---|---|")
    for clip in CLIPS:
        mine = [r for r in results if r["clip"] == clip]
        finals = ", ".join(f"{r['asr_final'] * 1000:.0f}" for r in mine)
        totals = ", ".join(f"{r['total'] * 1000:.0f}" for r in mine)
        print(f"| {clip} | {len(mine)} | {finals} | {totals} |")


if __name__ == "__main__":
    asyncio.run(main())
