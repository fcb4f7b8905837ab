"""Real-time streams for bench/stream_latency.py and bench/ssap.py: the English clips (at a level, with gaps),
sent in 100 ms chunks at real-time pace on a microphone's clock, one stream to WS /ws/transcribe/vad, and the
summary of a row (end-of-turn percentiles, first partial, WER, recall against the raw engine)."""

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import jiwer
import numpy as np
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

from services.common.audio import decode_audio
from tests.streaming import audio_message
from tests.text import ENGLISH_CLIPS, normalize, reference_text

REPO = Path(__file__).resolve().parents[1]
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


def stream_of(clips, offset: int, dbfs: float | None):
    """The clips from `offset` on (streams start on different clips), at the level, with the gaps:
    (clips in order, the whole stream's audio, each clip's last speech sample in the stream)."""
    order = clips[offset:] + clips[:offset]
    order = [(ref, at_level(a, dbfs), end) for ref, a, end in order]
    audio = np.concatenate([np.concatenate([a, np.zeros(int(GAP_S * RATE), np.float32)]) for _, a, _ in order])
    ends, position = [], 0
    for _, a, speech_end in order:
        ends.append(position + speech_end)
        position += a.size + int(GAP_S * RATE)
    return order, audio, ends


async def send_paced(ws, audio: np.ndarray, encode) -> float:
    """Send 100 ms chunks at real-time pace; returns the perf_counter time the first one left.
    Chunk i leaves at start + i * 0.1 s; a microphone began recording it 0.1 s earlier, so
    sample s is spoken at start - 0.1 + s / RATE."""
    start = time.perf_counter()
    for i, pos in enumerate(range(0, audio.size, CHUNK)):
        await asyncio.sleep(max(0.0, start + i * CHUNK / RATE - time.perf_counter()))
        await ws.send(encode(audio[pos : pos + CHUNK]))
    return start


def spoken_clock(start: float):
    return lambda sample: start - CHUNK / RATE + sample / RATE


async def one_stream(url: str, clips, offset: int, query: str = "", dbfs: float | None = None) -> dict:
    order, audio, ends = stream_of(clips, offset, dbfs)
    events: list[tuple[float, dict]] = []
    async with websockets.connect(f"{url}/ws/transcribe/vad{query}", max_size=None) as ws:

        async def reader() -> None:
            async for message in ws:
                events.append((time.perf_counter(), json.loads(message)))

        task = asyncio.create_task(reader())
        start = await send_paced(ws, audio, audio_message)
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(task, 60)
    finals = [(t, e["text"]) for t, e in events if e.get("type") == "transcript" and e["is_final"]]
    partials = [t for t, e in events if e.get("type") == "transcript" and not e["is_final"]]
    spoken = spoken_clock(start)
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
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def recall(results: list[dict], raw: list[str]) -> float:
    """Share of the raw engine's words (in order, on the stream's clip order) found in the stream's text."""
    hits = total = 0
    for r in results:
        offset = r["offset"]
        engine = " ".join(raw[offset:] + raw[:offset])
        total += len(engine.split())
        hits += jiwer.process_words(engine, r["hypothesis"]).hits if r["hypothesis"] else 0
    return hits / total


def summary(results: list[dict], raw: list[str]) -> dict:
    latencies = [x for r in results for x in r["latencies"]]
    partials = [r["first_partial"] for r in results if r["first_partial"] is not None]
    return {
        "turns": sum(r["turns"] for r in results),
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "max": max(latencies) * 1000 if latencies else float("nan"),
        "partial": statistics.median(partials) * 1000 if partials else float("nan"),
        "wer": statistics.mean(r["wer"] for r in results),
        "recall": recall(results, raw),
        "missed": sum(r["turns"] for r in results) - len(latencies),
        "lag": max((r.get("lag_s", 0.0) for r in results), default=0.0),
        "drain": max((r.get("drain_s", 0.0) for r in results), default=0.0),
    }
