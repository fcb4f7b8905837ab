"""TTS: time to the first byte of a streamed POST /v1/audio/speech (each OpenAI format, through the
official `openai` client) against the first frame of /ws/tts, on the same sentence and speaker.

Usage: .venv/bin/python bench/openai_speech.py [--url http://127.0.0.1:8005] [--rounds 5]

Through the gateway (a fleet is started unless --url is given), the default English speaker (Piper):
a short sentence and a three-sentence paragraph; for each, the median over --rounds of the seconds from
the request to its first audio byte (the first binary frame on the socket, a fresh connection each
time) and to its last. What the encoders (PyAV: LAME, libopus, FFmpeg's AAC and FLAC) and HTTP add to the
first byte is the difference from the socket's row.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import openai
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet

warnings.filterwarnings("ignore")
TEXTS = {
    "short": "Hello, how can I help you today?",
    "paragraph": "Thanks for calling. Your order shipped this morning. It should arrive on Friday.",
}
FORMATS = ("pcm", "wav", "mp3", "opus", "aac", "flac")


async def socket_times(url: str, text: str) -> tuple[float, float]:
    """(first frame, end) seconds of one /ws/tts request on a fresh connection."""
    async with websockets.connect(url) as ws:
        start = time.perf_counter()
        await ws.send(json.dumps({"target_text": text, "language": "en"}))
        first = None
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                first = first or time.perf_counter() - start
            elif json.loads(message)["type"] == "end":
                return first or 0.0, time.perf_counter() - start
            else:
                raise SystemExit(f"error from /ws/tts: {message}")


def speech_times(client: openai.OpenAI, text: str, response_format: str) -> tuple[float, float]:
    """(first byte, last byte) seconds of one streamed /v1/audio/speech."""
    start = time.perf_counter()
    first = None
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format=response_format
    ) as response:
        for _ in response.iter_bytes():
            first = first or time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def median_pair(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="base URL of :8005 (default: start the fleet)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with running_fleet(args.url):
        base = args.url or "http://127.0.0.1:8005"
        ws_url = base.replace("http", "ws", 1) + "/ws/tts"
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        speech_times(client, TEXTS["short"], "pcm")  # warm-up
        print("| text | route | first byte | last byte |")
        print("|---|---|---|---|")
        for name, text in TEXTS.items():
            pairs = [asyncio.run(socket_times(ws_url, text)) for _ in range(args.rounds)]
            first, last = median_pair(pairs)
            print(f"| {name} | /ws/tts | {first * 1000:.0f} ms | {last * 1000:.0f} ms |")
            for fmt in FORMATS:
                first, last = median_pair([speech_times(client, text, fmt) for _ in range(args.rounds)])
                print(f"| {name} | /v1/audio/speech {fmt} | {first * 1000:.0f} ms | {last * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
