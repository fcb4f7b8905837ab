"""WhisperLiveKit (LocalAgreement) as the streaming peer of bench/stream_latency.py: started from its own venv
on the fleet's CT2 model, and one stream to its /asr scored like ours (see bench/stream_latency.py's docstring
for how its committed text becomes a final per clip)."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jiwer
import numpy as np
import websockets

from bench.fleet import wait_for_port
from bench.realtime_stream import CHUNK, DATA, RATE, send_paced, spoken_clock, stream_of
from tests.text import normalize

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO.parent / "peers" / "wlk"
PEER_WARMUP = "asr/en_one_two_three.wav"  # not one of the measured clips
PEER_SETTLE_S = 3.0  # after the last clip: stop once the committed text has been still this long...
PEER_TAIL_S = 10.0  # ...or after this much extra silence


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


@dataclass
class PeerReplies:
    """What WhisperLiveKit replied on one stream."""

    snapshots: list[tuple[float, list[str]]] = field(default_factory=list)  # (arrival, committed words) per reply
    partials: list[float] = field(default_factory=list)  # arrivals of replies with a non-empty partial
    changed: float = 0.0  # arrival of the last reply that changed the committed text
    buffer: str = ""  # the latest partial
    lag: float = 0.0  # the largest remaining_time_transcription

    async def read(self, ws) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in ws:
                now, event = time.perf_counter(), json.loads(message)
                if event.get("type") == "ready_to_stop":
                    return
                if "lines" not in event:
                    continue
                words = committed_words(event)
                if not self.snapshots or words != self.snapshots[-1][1]:
                    self.changed = now
                self.snapshots.append((now, words))
                self.buffer = event.get("buffer_transcription", "").strip()
                self.lag = max(self.lag, event.get("remaining_time_transcription", 0.0))
                if self.buffer:
                    self.partials.append(now)

    def settled(self, since: float) -> bool:
        """Some committed text, an empty partial, and no change for PEER_SETTLE_S (counted from `since`)."""
        still = time.perf_counter() - max(self.changed, since)
        return bool(self.snapshots and self.snapshots[-1][1]) and not self.buffer and still >= PEER_SETTLE_S

    @property
    def final(self) -> list[str]:
        return self.snapshots[-1][1] if self.snapshots else []


async def send_tail(ws, replies: PeerReplies) -> None:
    """More silence after the last clip, at real-time pace, until the committed text has settled (at most
    PEER_TAIL_S)."""
    silence = pcm_bytes(np.zeros(CHUNK, np.float32))
    tail_start = time.perf_counter()
    for i in range(int(PEER_TAIL_S * RATE / CHUNK)):
        await asyncio.sleep(max(0.0, tail_start + i * CHUNK / RATE - time.perf_counter()))
        if replies.settled(since=tail_start):
            break
        await ws.send(silence)


def clip_latencies(order, ends: list[int], replies: PeerReplies, spoken, flushed_at: float) -> tuple[list[float], int]:
    """Per clip, from its speech end to the commit of its last word; and how many clips only the
    end-of-stream flush committed (no latency for those, nor for clips with no committed word)."""
    times = commit_times(replies.snapshots, replies.final)
    latencies, flushed_only = [], 0
    for indices, speech_end in zip(words_per_clip(order, replies.final), ends, strict=True):
        if not indices:
            continue
        done = max(times[j] for j in indices)
        if done >= flushed_at:
            flushed_only += 1
            continue
        latencies.append(done - spoken(speech_end))
    return latencies, flushed_only


async def one_peer_stream(
    peer_url: str, clips, offset: int, dbfs: float | None = None, drain_limit_s: float = 300.0
) -> dict:
    """The same stream to WhisperLiveKit's /asr (binary s16le); see bench/stream_latency.py for its final."""
    order, audio, ends = stream_of(clips, offset, dbfs)
    replies = PeerReplies()
    async with websockets.connect(peer_url, max_size=None) as ws:
        task = asyncio.create_task(replies.read(ws))
        start = await send_paced(ws, audio, pcm_bytes)
        await send_tail(ws, replies)
        flushed_at = time.perf_counter()
        await ws.send(b"")  # end of stream: WLK commits what is left and says ready_to_stop
        try:
            await asyncio.wait_for(task, drain_limit_s)
            drain_s = time.perf_counter() - flushed_at
        except TimeoutError:  # far behind real time: score what it committed so far
            drain_s = float("inf")
    spoken = spoken_clock(start)
    latencies, flushed_only = clip_latencies(order, ends, replies, spoken, flushed_at)
    reference = normalize(" ".join(ref for ref, _, _ in order))
    hypothesis = " ".join(replies.final)
    return {
        "offset": offset,
        "hypothesis": hypothesis,
        "latencies": latencies,
        "first_partial": (replies.partials[0] - spoken(0)) if replies.partials else None,
        "wer": jiwer.wer(reference, hypothesis) if hypothesis else 1.0,
        "turns": len(ends),
        "flushed_only": flushed_only,
        "lag_s": replies.lag,
        "drain_s": drain_s,
    }


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
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
