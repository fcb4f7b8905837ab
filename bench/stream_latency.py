"""End-of-turn latency of WS /ws/transcribe/vad, streaming real speech at real-time pace, next to a peer.

Usage: .venv/bin/python bench/stream_latency.py [--streams 1 4] [--rounds 2] [--levels normal -30 -40 -48]
           [--peer wlk [--peer-venv ../peers/wlk] | --peer-url ws://127.0.0.1:PORT/asr]

Each stream sends the English clips one after another (100 ms chunks, real-time pace) with
1.5 s of silence after each. Per turn it measures the time from the moment the last speech sample
(found with Silero VAD, no padding) is spoken — on a microphone's clock, where a 100 ms chunk
leaves once it is recorded — to the arrival of the final: silence_ms included, reported raw next
to it. Also time to first partial (from the stream's first sample) and the WER of the finals.

`--levels` replays the clips scaled to those RMS levels (dBFS of the voiced audio; `normal` as recorded).
Every row also gives the raw engine's WER (faster-whisper, beam 5, no VAD, on the original clip) and the
finals' word recall against the raw engine's words: what the stream lost that the engine hears.

The peer (`--peer wlk` starts WhisperLiveKit from its own venv, `--peer-url` uses one already running) is
WhisperLiveKit with its LocalAgreement policy on the faster-whisper backend and *the same CT2 model
directory* the fleet loads (`--model_dir`), `--lan en`, `--pcm-input`. It is measured exactly like our
server, in the same run (ours, then the peer, per round: never both at once): the same audio bytes,
chunking, pace and speech-end clock. Differences, by necessity:

- One WLK connection per stream, not per clip: the peer hears the very stream ours hears (clips with
  1.5 s of silence between them). A connection per clip would end every clip with the empty frame that
  flushes WLK's uncommitted buffer — an end-of-stream a live caller never sends, which would make the
  peer's finals look earlier than they are in a conversation. After the last clip the peer gets more
  silence at real-time pace (until its committed text has been still for PEER_SETTLE_S with an empty
  buffer, at most PEER_TAIL_S), so the last clip is not cut short by the flush either.
- The peer's "final" for a clip: WLK has no per-utterance final, only committed text (`lines[].text`,
  which LocalAgreement never takes back) and a partial (`buffer_transcription`). Each committed word's
  time is the reply from which the committed text up to and including that word never changed again.
  The stream's whole committed text is aligned to the references (jiwer) and every committed word
  belongs to the clip of its reference word (an inserted word to the reference word before it). A
  clip's final is then the moment its last word was committed: the clip's committed text stopped
  changing. A clip with no committed word, or whose words came only with the end-of-stream flush, is
  a turn without final. WLK pushes a reply at most every 50 ms.
- The peer's first partial: its first reply with a non-empty `buffer_transcription`, from the stream's
  first sample (like ours: the first non-final transcript).
- "lag" is the largest `remaining_time_transcription` WLK reported (audio it had not yet processed): a
  peer that falls behind real time shows it there and in the seconds it needs after the stream ends
  ("drain"); after `--peer-drain-s` the bench gives up and scores what it committed by then.

The table has one row per system and a ratio row (ours / peer). Load: the 1-minute load average before
and after each row's rounds (the machine is shared).
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
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
SILENCE_MS = 300  # the server default (STREAM_SILENCE_MS), for the "after silence" column
PEER_VENV = REPO.parent / "peers" / "wlk"
PEER_WARMUP = "asr/en_one_two_three.wav"  # not one of the measured clips
PEER_SETTLE_S = 3.0  # after the last clip: stop once the committed text has been still this long...
PEER_TAIL_S = 10.0  # ...or after this much extra silence


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


def pcm_bytes(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def committed_words(event: dict) -> list[str]:
    return normalize(" ".join(line.get("text", "") for line in event.get("lines", []))).split()


def commit_times(snapshots: list[tuple[float, list[str]]], final: list[str]) -> list[float]:
    """For each word of the final committed text, the time of the reply from which the committed text up to
    and including that word never changed again."""
    times = [float("inf")] * len(final)
    stable = len(final)  # min over later replies of their common prefix with the final text
    for t, words in reversed(snapshots):
        common = 0
        for a, b in zip(words, final, strict=False):
            if a != b:
                break
            common += 1
        stable = min(stable, common)
        for i in range(stable):
            times[i] = t  # overwritten by earlier replies while the prefix still holds
    return times


def words_per_clip(order, hypothesis: list[str]) -> list[list[int]]:
    """Hypothesis word indices per clip, by aligning the hypothesis to the concatenated references."""
    labels = [k for k, (ref, _, _) in enumerate(order) for _ in normalize(ref).split()]
    reference = " ".join(normalize(ref) for ref, _, _ in order)
    per_clip: list[list[int]] = [[] for _ in order]
    if not hypothesis:
        return per_clip
    for chunk in jiwer.process_words(reference, " ".join(hypothesis)).alignments[0]:
        for j in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
            if chunk.type in ("equal", "substitute"):
                ref_index = chunk.ref_start_idx + (j - chunk.hyp_start_idx)
            else:  # an insertion: the reference word before it
                ref_index = max(0, chunk.ref_start_idx - 1)
            per_clip[labels[min(ref_index, len(labels) - 1)]].append(j)
    return per_clip


async def one_peer_stream(
    peer_url: str, clips, offset: int, dbfs: float | None = None, drain_limit_s: float = 300.0
) -> dict:
    """The same stream to WhisperLiveKit's /asr (binary s16le); see the module docstring for its final."""
    order, audio, ends = stream_of(clips, offset, dbfs)
    snapshots: list[tuple[float, list[str]]] = []  # (arrival, committed words) per reply
    partials: list[float] = []  # arrivals of replies with a non-empty partial
    state = {"changed": 0.0, "buffer": "", "lag": 0.0}
    async with websockets.connect(peer_url, max_size=None) as ws:

        async def reader() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    now, event = time.perf_counter(), json.loads(message)
                    if event.get("type") == "ready_to_stop":
                        return
                    if "lines" not in event:
                        continue
                    words = committed_words(event)
                    if not snapshots or words != snapshots[-1][1]:
                        state["changed"] = now
                    snapshots.append((now, words))
                    state["buffer"] = event.get("buffer_transcription", "").strip()
                    state["lag"] = max(state["lag"], event.get("remaining_time_transcription", 0.0))
                    if state["buffer"]:
                        partials.append(now)

        task = asyncio.create_task(reader())
        start = await send_paced(ws, audio, pcm_bytes)
        # More silence after the last clip, at real-time pace, until the committed text has settled:
        # some committed text, an empty partial, and no change for PEER_SETTLE_S.
        silence = pcm_bytes(np.zeros(CHUNK, np.float32))
        tail_start = time.perf_counter()
        for i in range(int(PEER_TAIL_S * RATE / CHUNK)):
            await asyncio.sleep(max(0.0, tail_start + i * CHUNK / RATE - time.perf_counter()))
            still = time.perf_counter() - max(state["changed"], tail_start)
            if snapshots and snapshots[-1][1] and not state["buffer"] and still >= PEER_SETTLE_S:
                break
            await ws.send(silence)
        flushed_at = time.perf_counter()
        await ws.send(b"")  # end of stream: WLK commits what is left and says ready_to_stop
        try:
            await asyncio.wait_for(task, drain_limit_s)
            drain_s = time.perf_counter() - flushed_at
        except TimeoutError:  # far behind real time: score what it committed so far
            drain_s = float("inf")
    final = snapshots[-1][1] if snapshots else []
    times = commit_times(snapshots, final)
    spoken = spoken_clock(start)
    latencies, flushed_only = [], 0
    for indices, speech_end in zip(words_per_clip(order, final), ends, strict=True):
        if not indices:
            continue
        done = max(times[j] for j in indices)
        if done >= flushed_at:
            flushed_only += 1
            continue
        latencies.append(done - spoken(speech_end))
    reference = normalize(" ".join(ref for ref, _, _ in order))
    hypothesis = " ".join(final)
    return {
        "offset": offset,
        "hypothesis": hypothesis,
        "latencies": latencies,
        "first_partial": (partials[0] - spoken(0)) if partials else None,
        "wer": jiwer.wer(reference, hypothesis) if hypothesis else 1.0,
        "turns": len(ends),
        "flushed_only": flushed_only,
        "lag_s": state["lag"],
        "drain_s": drain_s,
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


COLUMNS = [
    "streams",
    "level",
    "system",
    "turns",
    "EOT p50 ms",
    "p50 − silence_ms",
    "EOT p95 ms",
    "max ms",
    "first partial ms",
    "finals WER",
    "raw engine WER",
    "recall vs raw",
    "turns w/o final",
    "load 1m before→after",
]


def row(streams: int, level: str, system: str, s: dict, raw_wer: float, load: str, ours: bool) -> str:
    after_silence = f"{s['p50'] - SILENCE_MS:.0f}" if ours else "–"
    missed = str(s["missed"])
    if not ours:
        drain = "gave up" if s["drain"] == float("inf") else f"{s['drain']:.1f} s"
        missed += f" (lag ≤ {s['lag']:.1f} s, drain {drain})"
    cells = [
        str(streams),
        level,
        system,
        str(s["turns"]),
        f"{s['p50']:.0f}",
        after_silence,
        f"{s['p95']:.0f}",
        f"{s['max']:.0f}",
        f"{s['partial']:.0f}",
        f"{s['wer']:.3f}",
        f"{raw_wer:.3f}",
        f"{s['recall']:.3f}",
        missed,
        load,
    ]
    return "| " + " | ".join(cells) + " |"


def ratio_row(streams: int, level: str, ours: dict, peer: dict) -> str:
    def r(key: str) -> str:
        return f"{ours[key] / peer[key]:.2f}" if peer[key] else "–"

    cells = [str(streams), level, "ours / peer", "", r("p50"), "", r("p95"), r("max"), r("partial")]
    cells += [r("wer"), "", r("recall"), "", ""]
    return "| " + " | ".join(cells) + " |"


def load1() -> str:
    return f"{os.getloadavg()[0]:.2f}"


async def measure(
    url: str, peer_url: str | None, streams: int, rounds: int, dbfs: float | None, clips, drain_limit_s: float
) -> tuple[list[dict], list[dict], str]:
    """`rounds` rounds of `streams` concurrent streams: ours, then the peer's (never both at once)."""
    ours: list[dict] = []
    peer: list[dict] = []
    before = load1()
    for _ in range(rounds):
        ours += await asyncio.gather(*(one_stream(url, clips, i * 2, dbfs=dbfs) for i in range(streams)))
        if peer_url:
            peer += await asyncio.gather(
                *(one_peer_stream(peer_url, clips, i * 2, dbfs, drain_limit_s) for i in range(streams))
            )
    return ours, peer, f"{before}→{load1()}"


@contextlib.contextmanager
def running_peer(args):
    """Yield the peer's WebSocket URL, or None (no peer asked for, or not installed: said so)."""
    if args.peer_url:
        yield args.peer_url
        return
    if args.peer != "wlk":
        yield None
        return
    wlk = Path(args.peer_venv) / "bin" / "wlk"
    if not wlk.is_file():
        print(
            f"peer: WhisperLiveKit is not installed at {wlk} (see ../shared/MEASURED.md for the pins); "
            "measuring this fleet alone"
        )
        yield None
        return
    from services.asr.models import resolve_model_path
    from services.asr.settings import AsrSettings

    model_dir = resolve_model_path(AsrSettings())
    wait_for_port(args.peer_port, "a peer")
    (REPO / "build").mkdir(exist_ok=True)
    log = (REPO / "build" / "wlk.log").open("w")
    command = [
        str(wlk),
        *("--host", "127.0.0.1", "--port", str(args.peer_port)),
        *("--backend", "faster-whisper", "--backend-policy", "localagreement"),
        *("--model_dir", model_dir, "--lan", "en", "--pcm-input"),
        *("--warmup-file", str(DATA / PEER_WARMUP), "--log-level", "WARNING"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.peer_threads)}
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"ws://127.0.0.1:{args.peer_port}/asr"
    try:
        deadline = time.monotonic() + 300
        while not _peer_ready(args.peer_port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"WhisperLiveKit did not start: see {log.name}")
            time.sleep(1)
        print(
            f"peer: WhisperLiveKit LocalAgreement, faster-whisper, model_dir {model_dir}, "
            f"OMP_NUM_THREADS={args.peer_threads}"
        )
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        log.close()


def _peer_ready(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, what: str) -> None:
    """Another fleet (someone else's benchmark) holds the port: wait for it to go, never stop it."""
    while listening(port):
        print(f"something already listens on :{port} ({what}); retrying in 60 s", flush=True)
        time.sleep(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--levels", nargs="*", default=None, help="normal and/or dBFS values, e.g. normal -30 -48")
    parser.add_argument("--url", default=None, help="use a running gateway instead of starting one")
    parser.add_argument("--peer", choices=["none", "wlk"], default="none", help="also measure WhisperLiveKit")
    parser.add_argument("--peer-url", default=None, help="a running WhisperLiveKit, ws://HOST:PORT/asr")
    parser.add_argument("--peer-venv", default=str(PEER_VENV), help="WhisperLiveKit's own virtual environment")
    parser.add_argument("--peer-port", type=int, default=8130)
    parser.add_argument("--peer-threads", type=int, default=2, help="OMP_NUM_THREADS for WhisperLiveKit")
    parser.add_argument(
        "--peer-drain-s", type=float, default=300.0, help="how long the peer may take after the stream ends"
    )
    parser.add_argument("--peer-streams", type=int, nargs="*", default=None, help="stream counts the peer gets")
    args = parser.parse_args()
    clips = load_clips()
    raw = raw_engine_texts(clips)
    raw_wer = jiwer.wer(" ".join(normalize(ref) for ref, _, _ in clips), " ".join(raw))
    if args.url is None:
        wait_for_port(8124, "another fleet's gateway")
    with running_peer(args) as peer_url, running_fleet(args.url) as url:
        ws_url = url.replace("http://", "ws://")
        print(
            f"clips={len(clips)} rounds={args.rounds} chunk=100ms gap={GAP_S}s cores={os.cpu_count()} "
            f"(server defaults: silence_ms from STREAM_SILENCE_MS, beam from ASR_STREAM_BEAM_SIZE); "
            f"raw engine (beam 5, no VAD, original level) WER {raw_wer:.3f}"
        )
        print("| " + " | ".join(COLUMNS) + " |")
        print("|---" * len(COLUMNS) + "|", flush=True)
        for streams in args.streams:
            with_peer = peer_url if args.peer_streams is None or streams in args.peer_streams else None
            for level in args.levels or ["normal"]:
                dbfs = None if level == "normal" else float(level)
                ours, peer, load = asyncio.run(
                    measure(ws_url, with_peer, streams, args.rounds, dbfs, clips, args.peer_drain_s)
                )
                label = level if level == "normal" else f"{level} dBFS"
                ours_s = summary(ours, raw)
                print(row(streams, label, "voicefleet", ours_s, raw_wer, load, ours=True))
                if peer:
                    peer_s = summary(peer, raw)
                    print(row(streams, label, "WhisperLiveKit LA", peer_s, raw_wer, load, ours=False))
                    print(ratio_row(streams, label, ours_s, peer_s))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
