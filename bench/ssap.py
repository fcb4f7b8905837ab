"""Voice profiling (SSAP) through the gateway: gender accuracy, time per /voice/profile call next to the
raw engine, and whether ssap delays final transcripts.

Usage: .venv/bin/python bench/ssap.py [--url http://127.0.0.1:8124] [--rounds 3]

1. Accuracy of POST /voice/profile on the known-gender voices (tests/known_voices.py) and the real
   clips of bench/ssap_gender.py.
2. Per call, 3 s and 10 s of speech: /voice/profile through Traefik (upload, decode, VAD, model)
   versus the raw engine (voice2gender.predict on the same voiced audio, in this process).
3. Final-transcript latency of /ws/transcribe/vad (bench/stream_latency.py's real-time streams of
   the English clips) with ssap off and on, alternating, and the ssap events per turn.
"""

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet
from bench.realtime_stream import load_clips, one_stream, pct
from bench.ssap_gender import DATA, REAL_CLIPS
from services.common.audio import decode_audio, to_pcm16, wav_bytes
from services.voice.profile.gender import Voice2Gender
from services.voice.speech import speech_only
from tests.known_voices import known_voices


def accuracy(client: httpx.Client) -> None:
    cases = [(v.family, v.gender, v.wav) for v in known_voices()]
    cases += [("real", gender, (DATA / clip).read_bytes()) for clip, (_, gender, _) in REAL_CLIPS.items()]
    right, total = Counter(), Counter()
    for family, gender, wav in cases:
        scores = client.post("/voice/profile", files={"file": ("x.wav", wav)}).json()["properties"]["gender"]
        total[family] += 1
        right[family] += max(scores, key=scores.get) == gender
    print("| voices | right | accuracy |\n|---|---|---|")
    for family in total:
        print(f"| {family} | {right[family]}/{total[family]} | {right[family] / total[family]:.0%} |")


def per_call(client: httpx.Client, rounds: int) -> None:
    engine = Voice2Gender()
    jfk = decode_audio((DATA / "asr/en_jfk.flac").read_bytes(), max_duration_s=60)
    lj = decode_audio((DATA / "asr/en_LJ050-0131.wav").read_bytes(), max_duration_s=60)
    print("| speech | /voice/profile p50 ms | p95 ms | raw voice2gender p50 ms | ratio |\n|---|---|---|---|---|")
    for label, audio in (("3 s", lj[: 3 * 16_000]), ("10 s", np.concatenate([jfk, lj])[: 10 * 16_000])):
        wav = wav_bytes(to_pcm16(audio), 16_000)
        voiced = speech_only(audio)
        service, raw = [], []
        for _ in range(rounds * 10):
            start = time.perf_counter()
            response = client.post("/voice/profile", files={"file": ("x.wav", wav)})
            service.append(time.perf_counter() - start)
            response.raise_for_status()
            start = time.perf_counter()
            engine.classify(voiced)
            raw.append(time.perf_counter() - start)
        p50, p50_raw = np.median(service) * 1000, np.median(raw) * 1000
        print(f"| {label} | {p50:.0f} | {pct(service, 95):.0f} | {p50_raw:.0f} | {p50 / p50_raw:.1f} |")


async def transcript_latency(ws_url: str, rounds: int) -> None:
    clips = load_clips()
    latencies: dict[bool, list[float]] = {False: [], True: []}
    events, finals = Counter(), Counter()
    for round_ in range(rounds):
        for ssap in (False, True):
            result = await one_stream(ws_url, clips, round_, "?ssap=true" if ssap else "")
            latencies[ssap] += result["latencies"]
            events[ssap] += result["ssap_events"]
            finals[ssap] += result["finals"]
    print("| ssap | clips | final p50 ms | final p95 ms | final transcripts | ssap events |")
    print("|---|---|---|---|---|---|")
    for ssap in (False, True):
        values, state = latencies[ssap], "on" if ssap else "off"
        p50, p95 = pct(values, 50), pct(values, 95)
        print(f"| {state} | {len(values)} | {p50:.0f} | {p95:.0f} | {finals[ssap]} | {events[ssap]} |")
    ratio = pct(latencies[True], 50) / pct(latencies[False], 50)
    print(f"final p50 ratio on/off: {ratio:.2f}; ssap events per final transcript: {events[True] / finals[True]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="use a running gateway instead of starting one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with running_fleet(args.url) as url, httpx.Client(base_url=url, timeout=60) as client:
        print(f"cores={os.cpu_count()} rounds={args.rounds}")
        accuracy(client)
        per_call(client, args.rounds)
        asyncio.run(transcript_latency(url.replace("http://", "ws://"), args.rounds))


if __name__ == "__main__":
    main()
