"""Our voice agent beside a Pipecat 1.14 bot on the same models: speech end → first agent audio byte.

Usage (the lock: this starts the fleet and binds :8299):
  flock /tmp/fleet.lock .venv/bin/python bench/voicechat_peer.py [--rounds 2] [--concurrent-rounds 1] \
      [--peer-turn smart|silence]

One run starts the fleet (as bench/voicechat_latency.py does, with its instant scripted LLM on :8299), and
bench/pipecat_bot.py in the peer's venv (../peers/pipecat; install steps in docs/BENCHMARKS.md) on :8331:
Silero VAD, WhisperSTTService on the fleet's own CTranslate2 Whisper base directory (int8, CPU),
OpenAILLMService on the same scripted LLM, PiperTTSService with the same joe voice. Both get the same
wire bytes (voicefleet's audio_event JSON, 100 ms chunks on a microphone's clock, voicechat_latency's
`play`). End of turn, each side's default around the same model (Pipecat's smart-turn v3.2 ONNX file): ours
ends a turn the model calls complete at a 200 ms pause, any other at AGENT_SILENCE_MS (500 ms); the bot
asks LocalSmartTurnAnalyzerV3 at Silero's stop (stop_secs 0.2 s), an unfinished turn ends after 3 s.
`--peer-turn silence`: the bot ends turns on silence only (stop_secs 0.2 s + user_speech_timeout 0.3 s).

Clips the fleet was not tuned on (not tests.text.ENGLISH_CLIPS): the six human speech-to-phrase commands
and seven LibriSpeech test-other utterances (2.3–12 s of speech) with no pause of 0.4 s or more (faster-whisper's
Silero), meant as one turn each. A turn: play the clip, then silence until the agent's reply that began
after its speech ended has finished (`agent_end`) and nothing more has come for 1 s. Speech end = the last
Silero speech sample of the clip on the playing clock; total = first audio byte of that reply − speech end;
transcript final = the last end of a user turn (a final `transcript`: ours from the ASR, the bot's at
on_user_turn_stopped) before that byte; a final that `replaces_previous` takes the place of the one before it.
A user turn that ended inside the clip (and was not replaced), or a whole reply inside it, marks the turn
"split"; a reply cut (`interrupted`) because the user went on marks a "false start" (the agent began to answer
a fragment: counted, and the turn's time is that of the reply that follows). Split turns and turns with no
reply within 30 s are counted and left out of the percentiles (a reply may begin in the clip's trailing
silence: that is after speech end). `--clips N`: the
first N clips, commands and passages alternating. Each session has one warm-up turn first, not counted.
Sides run one after the other (ours, then the peer), 1 session, then 4 concurrent sessions each starting on
a different clip.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import listening, running_fleet, wait_for_port
from bench.voicechat_latency import CHAT, CHUNK, LLM_URL, pcm, percentile, play
from services.asr.models import resolve_model_path
from services.asr.settings import AsrSettings
from tests.scripted_llm import scripted_llm_server

PEER_PYTHON = REPO.parent / "peers" / "pipecat" / "bin" / "python"
BOT_PORT = 8331
BOT = f"ws://127.0.0.1:{BOT_PORT}/ws"
OUT = REPO / "bench" / "out"
CLIPS = [
    *(
        f"spoof/en_stp_human_{name}.wav"
        for name in (
            "activate_Mood_Lighting",
            "cancel_timer",
            "next",
            "set_Bed_Light_brightness_to_50_percent",
            "skip_on_TV",
            "what_is_the_Outdoor_Humidity",
        )
    ),
    *(
        f"speaker/libri_testother_{name}.flac"
        for name in (
            "1688_1688-142285-0001",
            "1688_1688-142285-0002",
            "1998_1998-15444-0001",
            "1998_1998-15444-0002",
            "2414_2414-128291-0000",
            "2609_2609-156975-0000",
            "2609_2609-156975-0001",
        )
    ),
]
WARMUP = "spoof/en_stp_tts_resume_the_timer.wav"  # synthetic, not measured
REPLY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Clip:
    name: str
    speech: bytes  # 16 kHz s16le
    tail_s: float  # from the last Silero speech sample to the clip's end

    @property
    def chunks(self) -> int:
        return math.ceil(len(self.speech) / (CHUNK * 2))


def load_clip(name: str) -> Clip:
    speech = pcm(name)
    samples = np.frombuffer(speech, dtype="<i2").astype(np.float32) / 32768
    end = get_speech_timestamps(samples, VadOptions(speech_pad_ms=0, min_silence_duration_ms=100))[-1]["end"]
    return Clip(name, speech, (samples.size - end) / 16000)


class Tap:
    """The socket `play` sends on: notes when the first chunk left, so the time of the clip's last speech sample
    on `play`'s clock is known before the clip ends (a reply may begin in the clip's trailing silence)."""

    def __init__(self, ws, clip: Clip) -> None:
        self.ws, self.clip = ws, clip
        self.started: float | None = None

    @property
    def spoken_end(self) -> float | None:
        """As `play` counts it (its return value: `started` + 0.1 s per chunk), less the trailing silence."""
        return None if self.started is None else self.started + self.clip.chunks * 0.1 - self.clip.tail_s

    async def send(self, message: str) -> None:
        self.started = self.started or time.perf_counter()
        await self.ws.send(message)


async def turn(ws, clip: Clip) -> dict:
    """One turn; `total` is None for a turn with no reply after the clip ended."""
    tap, stop = Tap(ws, clip), asyncio.Event()
    player = asyncio.create_task(play(tap, clip.speech, stop))
    reply_start: float | None = None
    finals: list[float] = []  # ends of the user's turns, a final that replaces_previous in place of the one before
    split, cut = False, 0
    deadline = spoken_end = None
    while True:
        if tap.spoken_end and deadline is None:
            spoken_end = tap.spoken_end
            deadline = spoken_end + REPLY_TIMEOUT_S
        if deadline and time.perf_counter() > deadline:
            reply_start = None
            break
        try:
            message = await asyncio.wait_for(ws.recv(), 1.0)
        except TimeoutError:
            continue
        now = time.perf_counter()
        if isinstance(message, bytes):
            reply_start = reply_start or now
            continue
        event = json.loads(message)
        if event.get("type") == "transcript" and event.get("is_final"):
            if event.get("replaces_previous") and finals:
                finals.pop()
            finals.append(now)
        elif event.get("type") == "interrupted" and reply_start is not None:
            cut, reply_start = cut + 1, None  # a reply to part of the turn, stopped when the user went on
        elif event.get("type") == "agent_end" and reply_start is not None:
            if spoken_end and reply_start >= spoken_end:
                break
            split, reply_start = True, None  # a whole reply to part of the clip
    await quiet(ws)  # late events of this turn (a cut turn's further replies) must not land in the next
    stop.set()
    speech_end = await player - clip.tail_s
    split = split or any(t < speech_end for t in finals)  # a turn ended inside the clip
    heard = [t for t in finals if reply_start and speech_end <= t <= reply_start]
    return {
        "clip": clip.name,
        "split": split,
        "false_starts": cut,
        "total": None if reply_start is None else reply_start - speech_end,
        "asr_final": heard[-1] - speech_end if heard else None,
    }


async def quiet(ws, still_s: float = 1.0) -> None:
    """Read (and drop) what comes until nothing has come for `still_s`; the player goes on with silence."""
    with contextlib.suppress(TimeoutError):
        while True:
            await asyncio.wait_for(ws.recv(), still_s)


async def open_ours():
    ws = await websockets.connect(CHAT, max_size=2**22)
    await ws.send(json.dumps({"type": "config", "llm_base_url": LLM_URL, "language": "en"}))
    assert json.loads(await ws.recv())["type"] == "ready"
    return ws


async def open_peer():
    ws = await websockets.connect(BOT, max_size=2**22)
    while json.loads(await asyncio.wait_for(ws.recv(), 120)).get("type") != "ready":
        pass
    return ws


async def session(opener, clips: list[Clip], warmup: Clip, rounds: int, offset: int) -> list[dict]:
    """One connection's turns (on a closed connection: a new one, with its warm-up, and the next clip)."""
    order = (clips[offset:] + clips[:offset]) * rounds
    results: list[dict] = []
    while len(results) < len(order):
        ws = await opener()
        try:
            await turn(ws, warmup)
            while len(results) < len(order):
                result = await turn(ws, order[len(results)])
                results.append(result)
                print(f"{opener.__name__} {offset}: {result}", file=sys.stderr, flush=True)
        except websockets.ConnectionClosed as exc:
            print(f"{opener.__name__} {offset}: connection closed ({exc}); reconnecting", file=sys.stderr)
            results.append({"clip": order[len(results)].name, "split": False, "total": None, "asr_final": None})
        finally:
            await ws.close()
    return results


@contextlib.contextmanager
def pipecat_bot(whisper_dir: str, turn: str):
    """bench/pipecat_bot.py in the peer's venv on BOT_PORT, its log in bench/out/pipecat_bot.log."""
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} is missing: install the peer (docs/BENCHMARKS.md, Pipecat section)")
    wait_for_port(BOT_PORT, "Pipecat bot")
    OUT.mkdir(exist_ok=True)
    command = [str(PEER_PYTHON), str(REPO / "bench" / "pipecat_bot.py"), "--port", str(BOT_PORT)]
    command += ["--whisper-dir", whisper_dir, "--llm-url", LLM_URL, "--turn", turn]
    with (OUT / "pipecat_bot.log").open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not listening(BOT_PORT):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the Pipecat bot did not start; see bench/out/pipecat_bot.log")
            time.sleep(0.5)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def row(sessions: int, side: str, results: list[dict]) -> tuple[float, float]:
    totals = [r["total"] * 1000 for r in results if r["total"] is not None and not r["split"]]
    finals = [r["asr_final"] * 1000 for r in results if r["asr_final"] is not None and not r["split"]]
    split = sum(r["split"] for r in results)
    missing = sum(r["total"] is None for r in results)
    false_starts = sum(r.get("false_starts", 0) > 0 for r in results)
    p50, p95 = statistics.median(totals), percentile(totals, 95)
    final = f"{statistics.median(finals):.0f} ms" if finals else "–"
    print(
        f"| {sessions} | {side} | {len(totals)} | {split} / {false_starts} / {missing} | {final} | {p50:.0f} ms | "
        f"{p95:.0f} ms |"
    )
    return p50, p95


def report(results: dict[tuple[int, str], list[dict]]) -> None:
    print("| sessions | side | turns | split / false start / no reply | transcript final p50 | total p50 | total p95 |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for sessions in sorted({s for s, _ in results}):
        ours = row(sessions, "voicefleet", results[sessions, "ours"])
        peer = row(sessions, "Pipecat 1.14", results[sessions, "peer"])
        ratios.append(f"{sessions} session(s): p50 {ours[0] / peer[0]:.2f}, p95 {ours[1] / peer[1]:.2f}")
    print("\nratio ours/peer: " + "; ".join(ratios))


async def measure(clips: list[Clip], warmup: Clip, rounds: int, concurrent_rounds: int) -> dict:
    results: dict[tuple[int, str], list[dict]] = {}
    for sessions, n in ((1, rounds), (4, concurrent_rounds)):
        for side, opener in (("ours", open_ours), ("peer", open_peer)):
            offsets = [i * len(clips) // sessions for i in range(sessions)]
            runs = await asyncio.gather(*(session(opener, clips, warmup, n, o) for o in offsets))
            results[sessions, side] = [r for run in runs for r in run]
            print(f"done: {sessions} session(s), {side}", file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="passes over the clips, one session")
    parser.add_argument("--concurrent-rounds", type=int, default=1, help="passes per session, 4 sessions")
    parser.add_argument("--clips", type=int, default=len(CLIPS), help="the first N clips (commands, passages)")
    parser.add_argument("--peer-turn", choices=("smart", "silence"), default="smart", help="the bot's end of turn")
    args = parser.parse_args()
    os.environ["ALLOWED_URLS"] = json.dumps([LLM_URL])
    os.environ.setdefault("FOLLOW_UP_AFTER_S", "600")
    os.environ.setdefault("INACTIVITY_TIMEOUT_S", "600")  # a turn with no reply must not end the session
    order = [c for pair in zip(CLIPS[:6], CLIPS[6:], strict=False) for c in pair] + CLIPS[12:]
    clips, warmup = [load_clip(c) for c in order[: args.clips]], load_clip(WARMUP)
    whisper_dir = resolve_model_path(AsrSettings())
    with scripted_llm_server(), running_fleet(None), pipecat_bot(whisper_dir, args.peer_turn):
        results = asyncio.run(measure(clips, warmup, args.rounds, args.concurrent_rounds))
    OUT.mkdir(exist_ok=True)
    (OUT / "voicechat_peer.json").write_text(json.dumps({f"{s} {side}": r for (s, side), r in results.items()}))
    print(
        f"{len(clips)} clips, rounds {args.rounds} (1 session) / {args.concurrent_rounds} (4 sessions), "
        f"cores {os.cpu_count()}, scripted LLM (instant), Whisper base int8, Piper joe; "
        f"silence_ms {os.environ.get('AGENT_SILENCE_MS', '500')}, peer turn {args.peer_turn}"
    )
    report(results)


if __name__ == "__main__":
    main()
