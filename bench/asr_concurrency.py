"""Concurrent POST /transcribe: throughput with the solo copy (a lone request decodes on every CPU) against
the service without it (ASR_SOLO_THREADS=1, as before issue 22) and the raw engine, side by side.

Usage: .venv/bin/python bench/asr_concurrency.py [--levels 1 4 16] [--requests 32] [--rounds 2]

The asr service runs alone as the Procfile starts it (uvicorn, its own DATA_DIR, a free port in
8360-8379), once with its defaults (solo copy on) and once with ASR_SOLO_THREADS=1 (no solo copy), the
two alternating for --rounds rounds so drift in the machine's load hits both. At each level N, N client
threads send --requests requests in all (the four short English clips of bench/asr_file.py in turn, in
English on both sides); the figure is audio seconds transcribed per wall second, with the p50 and
p95 of a request's latency. The raw engine is faster-whisper in this process on the same model with the
server's worker setup (ASR_WORKERS model workers of ASR_CPU_THREADS threads, beam and VAD as the server's
file path), N threads calling it; it is the throughput a bare script gets from the same cores. Every text
is checked against the references (WER), so a fast answer that dropped words would show.
"""

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import jiwer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.asr_file import DATA, SHORT, raw_transcribe, references
from bench.service_process import free_port, start, stop
from services.asr.models import load_whisper
from services.asr.settings import AsrSettings
from services.common.audio import decode_audio
from tests.text import normalize

SIDES = {"solo copy on (default)": {}, "solo copy off (ASR_SOLO_THREADS=1)": {"ASR_SOLO_THREADS": "1"}}
RAW = "raw faster-whisper"


@dataclass
class Level:
    audio_s: float
    wall_s: float
    latencies: list[float]
    wer: float
    failed: int

    @property
    def throughput(self) -> float:
        return self.audio_s / self.wall_s


def run_level(transcribe, clips: list[tuple[str, bytes, float, str]], clients: int, requests: int) -> Level:
    """`requests` calls of `transcribe(name, data) -> text`, `clients` at a time."""
    jobs = [clips[i % len(clips)] for i in range(requests)]

    def one(job: tuple[str, bytes, float, str]) -> tuple[float, str | None]:
        name, data, _, _ = job
        started = time.perf_counter()
        try:
            text = transcribe(name, data)
        except httpx.HTTPError as exc:
            print(f"    {name}: {exc!r}", flush=True)
            text = None
        return time.perf_counter() - started, text

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, jobs))
    wall = time.perf_counter() - started
    done = [(job, text) for job, (_, text) in zip(jobs, results, strict=True) if text is not None]
    wer = jiwer.wer([normalize(j[3]) for j, _ in done], [normalize(t) for _, t in done]) if done else 1.0
    return Level(sum(j[2] for j, _ in done), wall, [s for s, _ in results], wer, len(jobs) - len(done))


def server_side(env: dict[str, str], clips, levels: list[int], requests: int, root: Path) -> dict[int, Level]:
    service = start("asr", free_port(set()), root, env, timeout=300)
    try:
        with httpx.Client(base_url=service.url, timeout=600) as client:

            def transcribe(name: str, data: bytes) -> str:
                response = client.post("/transcribe", files={"file": (name, data)}, data={"language": "en"})
                response.raise_for_status()
                return response.json()["text"]

            run_level(transcribe, clips, 2, 4)  # warm both workers and the solo copy
            return {n: run_level(transcribe, clips, n, max(requests, n)) for n in levels}
    finally:
        stop(service)


def raw_side(clips, levels: list[int], requests: int) -> dict[int, Level]:
    settings = AsrSettings()
    model = load_whisper(settings)

    def transcribe(_: str, data: bytes) -> str:
        return raw_transcribe(model, decode_audio(data, max_duration_s=7200), settings)

    run_level(transcribe, clips, 2, 4)
    return {n: run_level(transcribe, clips, n, max(requests, n)) for n in levels}


def print_table(results: dict[str, list[dict[int, Level]]], levels: list[int]) -> None:
    print("| clients | side | audio s / wall s (rounds) | vs solo off | vs raw | latency p50 / p95 s | WER | failed |")
    print("|---|---|---|---|---|---|---|---|")
    (off,) = (name for name in SIDES if "off" in name)
    for n in levels:
        base = statistics.median(r[n].throughput for r in results[off])
        raw = statistics.median(r[n].throughput for r in results[RAW])
        for side, rounds in results.items():
            rates = [r[n].throughput for r in rounds]
            latencies = sorted(s for r in rounds for s in r[n].latencies)
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            rate = statistics.median(rates)
            print(
                f"| {n} | {side} | {rate:.2f} ({', '.join(f'{x:.2f}' for x in rates)}) | {rate / base:.2f} | "
                f"{rate / raw:.2f} | {statistics.median(latencies):.2f} / {p95:.2f} | "
                f"{statistics.mean(r[n].wer for r in rounds):.3f} | {sum(r[n].failed for r in rounds)} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=32, help="requests per level (at least the level)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    refs = references()
    clips = []
    for name in SHORT:
        data = (DATA / name).read_bytes()
        clips.append((name, data, decode_audio(data, max_duration_s=3600).size / 16_000, refs[name]))
    results: dict[str, list[dict[int, Level]]] = {side: [] for side in [*SIDES, RAW]}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for side, env in SIDES.items():
                print(f"round {round_ + 1}: {side}", flush=True)
                work_dir = Path(tmp) / f"round{round_}-{len(env)}"
                results[side].append(server_side(env, clips, args.levels, args.requests, work_dir))
            print(f"round {round_ + 1}: {RAW}", flush=True)
            results[RAW].append(raw_side(clips, args.levels, args.requests))
    print_table(results, args.levels)


if __name__ == "__main__":
    main()
