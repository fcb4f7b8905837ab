"""End-of-turn latency of WS /ws/transcribe/vad, streaming real speech at real-time pace.

Usage: .venv/bin/python bench/stream_latency.py [--streams 1 4] [--rounds 2] [--levels normal -30 -40 -48]

Each stream sends the English clips one after another (100 ms chunks, real-time pace) with
1.5 s of silence after each. Per turn it measures the time from the moment the last speech sample
(found with Silero VAD, no padding) is spoken — on a microphone's clock, where a 100 ms chunk
leaves once it is recorded — to the arrival of the final: silence_ms included, reported raw next
to it. Also time to first partial (from the first speech) and the WER of the finals.

`--levels` replays the clips scaled to those RMS levels (dBFS of the voiced audio; `normal` as recorded)
and prints, per level, the finals' WER against the references next to the raw engine's (faster-whisper,
beam 5, no VAD, on the original clip) and the finals' word recall against the raw engine's words: what
the stream lost that the engine hears.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from services.common.audio import decode_audio
from tests.streaming import audio_message
from tests.text import ENGLISH_CLIPS, normalize, reference_text

DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
RATE, CHUNK = 16_000, 1_600
GAP_S = 1.5


def at_level(audio: np.ndarray, dbfs: float | None) -> np.ndarray:
    if dbfs is None:
        return audio
    windows = audio[: audio.size // 512 * 512].reshape(-1, 512)
    levels = np.sqrt((windows**2).mean(axis=1))
    voiced = windows[levels > 0.1 * levels.max()]
    return (audio * (10 ** (dbfs / 20) / np.sqrt((voiced**2).mean()))).astype(np.float32)


def raw_engine_texts(clips) -> list[str]:
    """The raw engine on each original clip: faster-whisper, the same model, beam 5, no VAD."""
    from services.asr.models import load_asr_model
    from services.asr.settings import AsrSettings

    model = load_asr_model(AsrSettings())
    texts = []
    for _, audio, _ in clips:
        segments, _ = model.transcribe(audio, language="en", beam_size=5, vad_filter=False)
        texts.append(normalize(" ".join(segment.text for segment in segments)))
    return texts


def load_clips() -> list[tuple[str, np.ndarray, int]]:
    """(reference, audio, sample index of the last speech sample) per clip."""
    refs = {r.split("\t")[0]: r.split("\t")[6] for r in (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]}
    out = []
    for name in ENGLISH_CLIPS:
        audio = decode_audio((DATA / name).read_bytes(), max_duration_s=120)
        speech = get_speech_timestamps(audio, VadOptions(speech_pad_ms=0, min_silence_duration_ms=100))
        out.append((reference_text(refs[name]), audio, speech[-1]["end"]))
    return out


async def one_stream(url: str, clips, offset: int, query: str = "", dbfs: float | None = None) -> dict:
    order = clips[offset:] + clips[:offset]  # streams start on different clips
    order = [(ref, at_level(a, dbfs), end) for ref, a, end in order]
    audio = np.concatenate([np.concatenate([a, np.zeros(int(GAP_S * RATE), np.float32)]) for _, a, _ in order])
    ends, position = [], 0
    for _, a, speech_end in order:
        ends.append(position + speech_end)
        position += a.size + int(GAP_S * RATE)
    events: list[tuple[float, dict]] = []
    async with websockets.connect(f"{url}/ws/transcribe/vad{query}", max_size=None) as ws:

        async def reader() -> None:
            async for message in ws:
                events.append((time.perf_counter(), json.loads(message)))

        task = asyncio.create_task(reader())
        start = time.perf_counter()
        for i, pos in enumerate(range(0, audio.size, CHUNK)):
            await asyncio.sleep(max(0.0, start + i * CHUNK / RATE - time.perf_counter()))
            await ws.send(audio_message(audio[pos : pos + CHUNK]))
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(task, 60)
    finals = [(t, e["text"]) for t, e in events if e.get("type") == "transcript" and e["is_final"]]
    partials = [t for t, e in events if e.get("type") == "transcript" and not e["is_final"]]

    # Chunk i is sent at start + i * 0.1 s; a microphone would have begun recording it 0.1 s
    # earlier, so sample s is spoken at start - 0.1 + s / RATE.
    def spoken(sample: int) -> float:
        return start - CHUNK / RATE + sample / RATE

    latencies = []
    for speech_end in ends:
        after = [t for t, _ in finals if t >= spoken(speech_end)]
        if after:
            latencies.append(after[0] - spoken(speech_end))
    hypothesis = normalize(" ".join(text for _, text in finals))
    reference = normalize(" ".join(ref for ref, _, _ in order))
    return {
        "offset": offset,
        "hypothesis": hypothesis,
        "latencies": latencies,
        "first_partial": (partials[0] - spoken(0)) if partials else None,
        "wer": jiwer.wer(reference, hypothesis),
        "turns": len(ends),
        "finals": len(finals),
        "ssap_events": sum(e.get("type") == "ssap" for _, e in events),
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


async def run(url: str, streams: int, rounds: int, clips) -> None:
    results = []
    for _ in range(rounds):
        results += await asyncio.gather(*(one_stream(url, clips, i * 2) for i in range(streams)))
    latencies = [x for r in results for x in r["latencies"]]
    missed = sum(r["turns"] for r in results) - len(latencies)
    partials = [r["first_partial"] for r in results if r["first_partial"] is not None]
    print(
        f"| {streams} | {len(latencies)} | {pct(latencies, 50):.0f} | {pct(latencies, 95):.0f} | "
        f"{max(latencies) * 1000:.0f} | {statistics.median(partials) * 1000:.0f} | "
        f"{statistics.mean(r['wer'] for r in results):.3f} | {missed} |"
    )


async def levels(url: str, clips, names: list[str]) -> None:
    raw = raw_engine_texts(clips)
    references = [normalize(ref) for ref, _, _ in clips]
    raw_wer = jiwer.wer(" ".join(references), " ".join(raw))
    print(f"raw engine (beam 5, no VAD, original level): WER {raw_wer:.3f}")
    columns = ["level", "finals WER", "raw engine WER", "recall vs raw engine", "final p50 ms", "final p95 ms"]
    print("| " + " | ".join([*columns, "first partial ms"]) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in names:
        dbfs = None if name == "normal" else float(name)
        result = await one_stream(url, clips, 0, dbfs=dbfs)
        engine_words = " ".join(raw)
        hits = jiwer.process_words(engine_words, result["hypothesis"]).hits if result["hypothesis"] else 0
        first = result["first_partial"]
        print(
            f"| {name} | {result['wer']:.3f} | {raw_wer:.3f} | {hits / len(engine_words.split()):.3f} | "
            f"{pct(result['latencies'], 50):.0f} | {pct(result['latencies'], 95):.0f} | "
            f"{first * 1000 if first is not None else float('nan'):.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--levels", nargs="*", default=None, help="normal and/or dBFS values, e.g. normal -30 -48")
    parser.add_argument("--url", default=None, help="use a running gateway instead of starting one")
    args = parser.parse_args()
    clips = load_clips()
    if args.levels:
        with running_fleet(args.url) as url:
            asyncio.run(levels(url.replace("http://", "ws://"), clips, args.levels))
        return
    with running_fleet(args.url) as url:
        ws_url = url.replace("http://", "ws://")
        print(
            f"clips={len(clips)} rounds={args.rounds} chunk=100ms gap={GAP_S}s cores={os.cpu_count()} "
            f"(server defaults: silence_ms from STREAM_SILENCE_MS, beam from ASR_STREAM_BEAM_SIZE)"
        )
        print("| streams | turns | final p50 ms | final p95 ms | max ms | first partial ms | WER | turns w/o final |")
        print("|---|---|---|---|---|---|---|---|")
        for streams in args.streams:
            asyncio.run(run(ws_url, streams, args.rounds, clips))


if __name__ == "__main__":
    main()
