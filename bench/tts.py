"""TTS: time to the first audio frame and real-time factor per engine, 1 and 4 concurrent connections.

Usage: .venv/bin/python bench/tts.py [--url ws://127.0.0.1:8005/ws/tts] [--rounds 5]

Through the gateway (a fleet is started unless --url is given) for one speaker per engine: a short
sentence (first-frame latency, the number a voice agent feels) and a four-sentence paragraph (RTF =
synthesis wall time / audio duration). Side by side, the raw engine in this process on the same texts:
its time for the first sentence alone and for the whole paragraph, so the ratios show what streaming,
resampling and the network cost. Then, per engine, long first sentences without a comma (the service
cuts them after a few words): the service's first frame against the raw engine's time for the whole
sentence (what the listener waited for before the cut) and for the first piece. Medians over --rounds.
"""

import argparse
import asyncio
import functools
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from services.common.text_pieces import SENTENCE_END, sentences
from services.tts.engines.base import Voice
from services.tts.settings import TtsSettings

warnings.filterwarnings("ignore")
CASES = {  # engine: (language, voice, short sentence, paragraph)
    "piper": (
        "en",
        "en_US-joe-medium",
        "Hello, how can I help you today?",
        "Thanks for calling. Your order shipped this morning. It should arrive on Friday. Anything else I can do?",
    ),
    "kokoro": (
        "ja",
        "jf_alpha",
        "こんにちは、ご用件をどうぞ。",
        "お電話ありがとうございます。ご注文は今朝発送されました。金曜日に届く予定です。他にご用件はありますか。",
    ),
    "espeak": (
        "vi",
        "vi",
        "Xin chào, tôi có thể giúp gì cho bạn?",
        "Cảm ơn bạn đã gọi. Đơn hàng đã được gửi sáng nay. Dự kiến sẽ đến vào thứ sáu. Bạn cần giúp gì thêm không?",
    ),
}

ENGLISH_LONG_FIRST = [
    "The quick brown fox jumps over the lazy dog near the river bank. It was late.",
    "Your package was delivered to the front desk this morning. Anything else?",
    "I found three flights that leave before noon on Saturday. Shall I book one?",
]
LONG_FIRST_SENTENCES = {  # engine: (language, voice, texts whose first sentence has no clause mark)
    "piper": ("en", "en_US-joe-medium", ENGLISH_LONG_FIRST),
    "espeak": ("en", "en-us", ENGLISH_LONG_FIRST),
    "kokoro": ("ja", "jf_alpha", ["今日はとても良い天気なので公園まで散歩に行きましょう。いかがですか。"]),
}


async def one_request(url: str, request: dict) -> tuple[float, float, float]:
    """(seconds to first frame, total seconds, audio seconds) for one request on a fresh connection."""
    async with websockets.connect(url) as ws:
        start = time.perf_counter()
        await ws.send(json.dumps(request))
        first, samples = None, 0
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                first = first or time.perf_counter() - start
                samples += len(message) // 2
            else:
                event = json.loads(message)
                if event["type"] != "end":
                    raise SystemExit(f"error from /ws/tts: {event}")
                return first or 0.0, time.perf_counter() - start, samples / 24000


async def measure(url: str, request: dict, concurrent: int, rounds: int) -> tuple[float, float]:
    firsts, rtfs = [], []
    for _ in range(rounds):
        results = await asyncio.gather(*(one_request(url, request) for _ in range(concurrent)))
        firsts += [r[0] for r in results]
        rtfs += [r[1] / r[2] for r in results]
    return statistics.median(firsts), statistics.median(rtfs)


def raw_engine(
    engine_name: str, language: str, voice: str, short: str, paragraph: str, rounds: int
) -> tuple[float, float]:
    from services.tts.engines.loader import loaders

    engine = loaders(TtsSettings())[engine_name]()
    target = Voice(engine_name, voice, language)
    first_times, rtfs = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        engine.synthesize(sentences(short)[0], target)
        first_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        samples = sum(engine.synthesize(s, target).size for s in sentences(paragraph))
        rtfs.append((time.perf_counter() - start) / (samples / engine.sample_rate))
    return statistics.median(first_times), statistics.median(rtfs)


def median_seconds(synthesize, text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        synthesize(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def long_first_sentences(url: str, speakers: list[dict], rounds: int) -> None:
    """The service's first frame for each long first sentence, over the raw engine's time for that
    sentence said whole and for the first piece the service says first (services/common/text_pieces.py)."""
    from services.tts.engines.loader import loaders

    print(
        "\n| engine | lang | first piece | raw whole first sentence | raw first piece | service first frame "
        "(1 conn) | ratio to raw whole | ratio to raw first piece |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for engine_name, (language, voice, texts) in LONG_FIRST_SENTENCES.items():
        speaker = next(s for s in speakers if s["engine"] == engine_name and s["voice"] == voice)
        engine = loaders(TtsSettings())[engine_name]()
        synthesize = functools.partial(engine.synthesize, voice=Voice(engine_name, voice, language))
        for text in texts:
            first, _ = await measure(url, {"target_text": text, "speaker_id": speaker["id"]}, 1, rounds)
            first_piece = sentences(text)[0]
            whole = median_seconds(synthesize, SENTENCE_END.split(text)[0].strip(), rounds)
            piece = median_seconds(synthesize, first_piece, rounds)
            print(
                f"| {engine_name} | {language} | {first_piece} | {whole * 1000:.0f} ms | {piece * 1000:.0f} ms "
                f"| {first * 1000:.0f} ms | {first / whole:.2f} | {first / piece:.2f} |"
            )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="ws URL of /ws/tts (default: start the fleet)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with running_fleet(args.url):
        url = args.url or "ws://127.0.0.1:8005/ws/tts"
        async with httpx.AsyncClient(base_url="http://127.0.0.1:8005") as catalog:
            speakers = (await catalog.get("/api/speakers")).json()["speakers"]
        print(
            "| engine | lang | raw first sentence | service first frame (1 conn) | ratio | first frame (4 conn) "
            "| raw RTF | service RTF (1) | service RTF (4) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for engine, (language, voice, short, paragraph) in CASES.items():
            speaker = next(s for s in speakers if s["engine"] == engine and s["voice"] == voice)
            first_1, _ = await measure(url, {"target_text": short, "speaker_id": speaker["id"]}, 1, args.rounds)
            first_4, _ = await measure(url, {"target_text": short, "speaker_id": speaker["id"]}, 4, args.rounds)
            _, rtf_1 = await measure(url, {"target_text": paragraph, "speaker_id": speaker["id"]}, 1, args.rounds)
            _, rtf_4 = await measure(url, {"target_text": paragraph, "speaker_id": speaker["id"]}, 4, args.rounds)
            raw_first, raw_rtf = raw_engine(engine, language, voice, short, paragraph, args.rounds)
            print(
                f"| {engine} | {language} | {raw_first * 1000:.0f} ms | {first_1 * 1000:.0f} ms | "
                f"{first_1 / raw_first:.2f} | {first_4 * 1000:.0f} ms | {raw_rtf:.2f} | {rtf_1:.2f} | {rtf_4:.2f} |"
            )
        await long_first_sentences(url, speakers, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
