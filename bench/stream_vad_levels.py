"""Words inside the stream's turns at every level: the Silero input gain and the pre-roll, side by side.

Usage: .venv/bin/python bench/stream_vad_levels.py [--levels normal -30 -40 -48 -54] [--preroll-ms 192 400]
       [--conversations 4]

Decode-free: the raw engine (faster-whisper, beam 5, word timestamps, on the original audio) says where
each word is; a word is *kept* when its middle lies in some turn's audio as the stream cuts it (Silero VAD
+ services/asr/streaming/turns.py on the stream's clock, 100 ms chunks, the scaled audio). Words outside
every turn are never decoded: lost. Whisper places some first words early, so "normal" is not 1.000.

Sets: *tune* (what the changes were chosen on): asr/, spoof/ and multilingual/ clips; *held out*: the 15
LibriSpeech test-other clips of speaker/ and simulated conversations (bench/diarization_sim.py: 2-3
speakers 6-12 dB apart, noise at 10-25 dB SNR in some), none of them looked at while choosing. Each item
is scaled so that the RMS of its voiced windows is the level (tests/audio_files.py's `at_level`).
Variants: the gain off (Silero hears the stream as it is, as before 2026-12-03) and on, at each pre-roll.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.diarization_sim import conversation
from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.asr.streaming.turns import TurnDetector, TurnEnded, TurnSettings, TurnStarted
from services.asr.streaming.vad import WINDOW, StreamingVad
from tests.audio_files import at_level, read_mono
from tests.conftest import DATA

RATE, CHUNK = 16_000, 1_600


class NoGain:
    """A speech level that never asks for a gain: Silero hears the stream as it is."""

    gain = 1.0

    def observe(self, windows: np.ndarray, probs: np.ndarray) -> None:
        pass


def item_sets(conversations: int) -> dict[str, list[tuple[str, np.ndarray]]]:
    def clips(folders: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
        paths = sorted(p for f in folders for p in (DATA / f).iterdir() if p.suffix in (".wav", ".flac"))
        return [(p.name, read_mono(p.read_bytes())) for p in paths]

    sims = [conversation(speakers, index) for index in range(conversations // 2) for speakers in (2, 3)]
    return {
        "tune": clips(("asr", "spoof", "multilingual")),
        "held out": clips(("speaker",)) + [(sim.name, sim.audio) for sim in sims],
    }


def turn_spans(audio: np.ndarray, settings: TurnSettings, gain: bool) -> list[tuple[float, float]]:
    """(start, end) in s of every turn's audio as the stream cuts it."""
    vad, detector = StreamingVad(), TurnDetector(settings)
    if not gain:
        vad.level = NoGain()
    spans, start = [], 0

    def ended(event: TurnEnded) -> None:
        spans.append((start * WINDOW / RATE, start * WINDOW / RATE + event.audio.size / RATE))

    for offset in range(0, audio.size, CHUNK):
        for event in detector.feed(*vad.process(audio[offset : offset + CHUNK])):
            if isinstance(event, TurnStarted):
                start = detector._turn_started
            elif isinstance(event, TurnEnded):
                ended(event)
        vad.reset_if_due(detector.listening)
    if (last := detector.finish()) is not None:
        ended(last)
    return spans


def kept(words: list[tuple[float, float]], spans: list[tuple[float, float]]) -> int:
    return sum(any(a <= (start + end) / 2 <= b for a, b in spans) for start, end in words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", nargs="+", default=["normal", "-30", "-40", "-48", "-54"])
    parser.add_argument("--preroll-ms", type=int, nargs="+", default=[192, 400])
    parser.add_argument("--conversations", type=int, default=4)
    args = parser.parse_args()
    model = load_asr_model(AsrSettings(), threads=2, workers=1)
    sets = item_sets(args.conversations)
    words = {}
    for items in sets.values():
        for name, audio in items:
            segments, _ = model.transcribe(audio, beam_size=5, vad_filter=False, word_timestamps=True)
            words[name] = [(w.start, w.end) for s in segments for w in s.words]
    print("| set | gain | pre-roll ms | " + " | ".join(args.levels) + " |")
    print("|---|---|---|" + "---|" * len(args.levels))
    for set_name, items in sets.items():
        total = sum(len(words[name]) for name, _ in items)
        for gain in (False, True):
            for preroll in args.preroll_ms:
                settings, row = TurnSettings(preroll_ms=preroll), []
                for level in args.levels:
                    hits = 0
                    for name, audio in items:
                        scaled = audio if level == "normal" else at_level(audio, float(level))
                        padded = np.concatenate([scaled, np.zeros(RATE, np.float32)])
                        hits += kept(words[name], turn_spans(padded, settings, gain))
                    row.append(f"{hits / total:.3f}")
                on = "on" if gain else "off"
                print(f"| {set_name} ({total} words) | {on} | {preroll} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
