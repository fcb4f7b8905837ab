"""File transcription: raw faster-whisper vs. POST /transcribe through the gateway, side by side.

Usage: .venv/bin/python bench/asr_file.py [--repeats 3] [--long-minutes 5] [--recall-only | --timing-only]
    [--raw-threads N]

Starts the fleet (Procfile) unless --url is given, runs the same files through the raw engine
in this process (same model, beam and VAD options as the server's sequential path; --raw-threads CPU
threads, by default every CPU: the raw engine at its fastest for one request at a time) and
through the server, and prints wall time, real-time factor, the server/raw ratio and peak RSS.
The long file is built by concatenating the shared English clips that have transcripts, 1 s
apart; for it the raw engine decodes sequentially and the server cuts it in pauses into pieces
of about 30 s decoded in parallel on the model's workers. WER is against the references for both sides.

Then word recall (the share of the raw engine's words found, in order): the server and the raw
engine with Silero VAD, against the raw engine without VAD, on every shared clip with speech,
two-speaker mixes, mixed-language files and files longer than 30 s (tests/word_recall.py); for a
mixed-language file the reference is the raw engine on each clip alone, since on the mix it keeps
one language.
"""

import argparse
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import jiwer
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import pid_listening_on, running_fleet
from services.asr.models import available_cpus, load_whisper, solo_threads
from services.asr.settings import AsrSettings
from services.asr.transcriber import FILE_VAD
from services.common.audio import decode_audio
from tests.audio_files import wav_bytes
from tests.text import normalize, reference_text
from tests.word_recall import (
    CLIPS,
    LANGUAGE_MIXES,
    LONG_LANGUAGE_MIX,
    LONG_MIXES,
    SAME_LANGUAGE_MIXES,
    as_sent,
    joined,
    kept,
    load,
    recall,
)

DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
SHORT = [
    "asr/en_one_two_three.wav",
    "asr/en_LJ050-0131.wav",
    "asr/en_librispeech_1995-1837-0001.wav",
    "asr/en_jfk.flac",
]
RATE = 16_000
# Between the raw engine's run and the server's: the service decides by the CPUs' last 100-200 ms whether a
# lone request gets every thread (services/asr/cpu_headroom.py), and the raw run in this process just had them.
SETTLE_S = 0.5


def references() -> dict[str, str]:
    rows = (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {r.split("\t")[0]: reference_text(r.split("\t")[6]) for r in rows}


def long_file(minutes: float) -> tuple[bytes, str]:
    """The English clips that have transcripts, 1 s apart, repeated to `minutes`; and its reference."""
    refs = references()
    clips = [name for name in sorted(refs) if name.startswith("asr/")]
    pause = np.zeros(RATE, np.float32)
    pieces, words, total = [], [], 0
    while total < minutes * 60 * RATE:
        for name in clips:
            audio = decode_audio((DATA / name).read_bytes(), max_duration_s=3600)
            pieces += [audio, pause]
            words.append(refs[name])
            total += audio.size + pause.size
    return wav_bytes(np.concatenate(pieces)), " ".join(words)


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def raw_transcribe(model, audio: np.ndarray, settings: AsrSettings) -> str:
    segments, _ = model.transcribe(
        audio,
        language="en",
        beam_size=settings.asr_beam_size,
        vad_filter=True,
        vad_parameters=FILE_VAD,
        condition_on_previous_text=False,
    )
    return "".join(s.text for s in segments).strip()


def raw_text(model, audio: np.ndarray, settings: AsrSettings, *, vad: bool) -> str:
    segments, _ = model.transcribe(
        audio,
        beam_size=settings.asr_beam_size,
        vad_filter=vad,
        vad_parameters=FILE_VAD if vad else None,
        condition_on_previous_text=False,
    )
    return "".join(s.text for s in segments).strip()


def recall_table(model, settings: AsrSettings, client: httpx.Client) -> None:
    """Word recall against the raw engine without VAD, per group of files."""

    def server(audio: np.ndarray) -> str:
        response = client.post("/transcribe", files={"file": ("a.wav", wav_bytes(audio))})
        response.raise_for_status()
        return response.json()["text"]

    def nudged(audio: np.ndarray) -> np.ndarray:
        """The same audio with one 16-bit step of noise: how much the raw engine's own words vary."""
        return audio + np.random.default_rng(0).choice([-1, 1], audio.size).astype(np.float32) / 32768

    floor: list[float] = []
    floor_lost: list[float] = []
    groups: dict[str, list[tuple[str, str, str, str]]] = {
        "shared clips": [],
        "two-speaker mixes": [],
        "mixed languages": [],
        "long files (> 30 s, in pieces)": [],
    }

    def row(name: str, audio: np.ndarray, reference: str | None = None) -> tuple[str, str, str, str]:
        sent = as_sent(audio)  # what the server decodes from the WAV it is sent
        without_vad = raw_text(model, sent, settings, vad=False)
        if reference is None:
            again = raw_text(model, nudged(sent), settings, vad=False)
            floor.append(recall(without_vad, again))
            floor_lost.append(1 - kept(without_vad, again))
        with_vad = raw_text(model, sent, settings, vad=True)
        return name, reference or without_vad, with_vad, server(audio)

    groups["shared clips"] = [row(name, load(name)) for name in CLIPS]
    groups["two-speaker mixes"] = [row(name, joined(*mix)) for name, mix in SAME_LANGUAGE_MIXES.items()]
    for name, parts in [*LANGUAGE_MIXES.items(), ("long_five_languages", LONG_LANGUAGE_MIX)]:
        alone = " ".join(raw_text(model, as_sent(load(clip)), settings, vad=False) for _, clip in parts)
        group = "mixed languages" if name in LANGUAGE_MIXES else "long files (> 30 s, in pieces)"
        groups[group].append(row(name, joined([clip for _, clip in parts], 1.0), alone))
    groups["long files (> 30 s, in pieces)"] += [row(name, joined(*mix)) for name, mix in LONG_MIXES.items()]
    print(
        "| group | files | raw+VAD recall mean | raw+VAD min | server recall mean | server min | server files < 0.98 "
        "| raw+VAD words lost | server words lost (max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for group, rows in groups.items():
        vad = [recall(ref, with_vad) for _, ref, with_vad, _ in rows]
        served = [recall(ref, text) for _, ref, _, text in rows]
        below = ", ".join(name for (name, *_), r in zip(rows, served, strict=True) if r < 0.98) or "none"
        vad_lost = [1 - kept(ref, with_vad) for _, ref, with_vad, _ in rows]
        lost = [1 - kept(ref, text) for _, ref, _, text in rows]
        print(
            f"| {group} | {len(rows)} | {statistics.mean(vad):.3f} | {min(vad):.3f} | "
            f"{statistics.mean(served):.3f} | {min(served):.3f} | {below} | "
            f"{statistics.mean(vad_lost):.3f} | {statistics.mean(lost):.3f} ({max(lost):.3f}) |"
        )
    print(
        f"noise floor: the raw engine on the files with one 16-bit step of noise added keeps "
        f"{statistics.mean(floor):.3f} of its own words (min {min(floor):.3f})"
        f"; loses {statistics.mean(floor_lost):.3f} (max {max(floor_lost):.3f})"
    )


def timed_rows(model, settings: AsrSettings, client: httpx.Client, files: dict[str, bytes], repeats: int) -> list:
    """Per file: (name, audio s, raw median s, server median s, raw text, server text); raw and server runs
    alternate so machine noise hits both alike."""

    def server(name: str, data: bytes) -> str:
        response = client.post("/transcribe", files={"file": (name, data)}, data={"language": "en"})
        response.raise_for_status()
        return response.json()["text"]

    def raw(data: bytes) -> str:
        # The raw side decodes the file too, as the server does.
        return raw_transcribe(model, decode_audio(data, max_duration_s=7200), settings)

    raw(files[SHORT[0]])  # warm both paths once
    server(SHORT[0], files[SHORT[0]])
    rows = []
    for name, data in files.items():
        raw_times, server_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            raw_text = raw(data)
            raw_times.append(time.perf_counter() - start)
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            server_text = server(name, data)
            server_times.append(time.perf_counter() - start)
        duration = decode_audio(data, max_duration_s=7200).size / RATE
        rows.append(
            (name, duration, statistics.median(raw_times), statistics.median(server_times), raw_text, server_text)
        )
    return rows


def print_timing(rows: list, refs: dict[str, str]) -> None:
    print("| file | audio s | raw s | raw RTF | server s | server RTF | server/raw | raw WER | server WER |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, duration, raw_s, server_s, raw_text, server_text in rows:
        ref = normalize(refs[name])
        raw_wer, server_wer = jiwer.wer(ref, normalize(raw_text)), jiwer.wer(ref, normalize(server_text))
        print(
            f"| {name} | {duration:.1f} | {raw_s:.2f} | {raw_s / duration:.3f} | {server_s:.2f} | "
            f"{server_s / duration:.3f} | {server_s / raw_s:.2f} | {raw_wer:.3f} | {server_wer:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-minutes", type=float, default=5.0)
    parser.add_argument("--url", default=None, help="use a running gateway instead of starting one")
    parser.add_argument("--recall-only", action="store_true", help="only the word-recall table")
    parser.add_argument("--timing-only", action="store_true", help="no word-recall table")
    parser.add_argument(
        "--raw-threads", type=int, default=available_cpus(), help="the raw engine's CPU threads (default: all)"
    )
    args = parser.parse_args()

    settings = AsrSettings()
    files = {name: (DATA / name).read_bytes() for name in SHORT}
    refs = {name: references()[name] for name in SHORT}
    long_name = f"long_{args.long_minutes:g}min.wav"
    files[long_name], refs[long_name] = long_file(args.long_minutes)

    model = load_whisper(settings, threads=args.raw_threads, workers=1)
    with running_fleet(args.url) as url, httpx.Client(base_url=url, timeout=900) as client:
        if args.recall_only:
            recall_table(model, settings, client)
            return
        sampler = RssSampler(pid_listening_on(8201))
        sampler.start()
        rows = timed_rows(model, settings, client, files, args.repeats)
        sampler.running = False
        if not args.timing_only:
            recall_table(model, settings, client)

    raw_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"model={settings.asr_model} raw threads={args.raw_threads} server cpu_threads={settings.asr_cpu_threads} "
        f"solo_threads={solo_threads(settings)} "
        f"workers={settings.asr_workers} beam={settings.asr_beam_size} "
        f"repeats={args.repeats} cores={os.cpu_count()}"
    )
    print_timing(rows, refs)
    print(f"peak RSS: raw engine process {raw_peak_mb:.0f} MB, asr service {sampler.peak / 2**20:.0f} MB")
    long_row = rows[-1]
    print(f"long file: the server in pieces is {long_row[2] / long_row[3]:.2f}x faster than raw sequential")


if __name__ == "__main__":
    main()
