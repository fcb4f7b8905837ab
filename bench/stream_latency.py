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
  buffer, at most PEER_TAIL_S: bench/stream_peer.py), so the last clip is not cut short by the flush either.
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
import os
import sys
from pathlib import Path

import jiwer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import running_fleet, wait_for_port
from bench.realtime_stream import GAP_S, load_clips, one_stream, raw_engine_texts, summary
from bench.stream_peer import PEER_VENV, one_peer_stream, running_peer
from tests.text import normalize

SILENCE_MS = 300  # the server default (STREAM_SILENCE_MS), for the "after silence" column


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
