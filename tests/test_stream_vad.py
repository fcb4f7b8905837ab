"""The stream's Silero state is cleared in clear non-speech between turns (services/asr/streaming/vad.py): a
command after a long read passage is heard as in a fresh stream. Real Silero on real speech; no Whisper."""

import numpy as np

from services.asr.streaming.turns import TurnDetector, TurnEnded, TurnSettings
from services.asr.streaming.vad import WINDOW, StreamingVad
from tests.word_recall import load

RATE = 16_000
PASSAGE = "speaker/libri_testother_1998_1998-15444-0001.flac"
COMMAND = "spoof/en_stp_human_set_Bed_Light_brightness_to_50_percent.wav"


def last_turn(audio: np.ndarray, resets: bool) -> tuple[TurnEnded, int]:
    """The last turn of `audio` streamed in 100 ms chunks at the voice agent's silence_ms; and the resets."""
    vad, detector = StreamingVad(), TurnDetector(TurnSettings(silence_ms=500))
    ended = []
    for start in range(0, audio.size, RATE // 10):
        ended += [e for e in detector.feed(*vad.process(audio[start : start + RATE // 10])) if isinstance(e, TurnEnded)]
        if resets:
            vad.reset_if_due(detector.listening)
    return ended[-1], vad.resets


def test_a_command_after_a_long_passage_starts_where_it_starts_in_a_fresh_stream() -> None:
    command, second = load(COMMAND), np.zeros(RATE, np.float32)
    after_passage = np.concatenate([load(PASSAGE), second, command, second])
    fresh, _ = last_turn(np.concatenate([second, command, second]), resets=True)
    kept, resets = last_turn(after_passage, resets=True)
    worn, _ = last_turn(after_passage, resets=False)
    assert resets >= 1
    # The state the passage left makes Silero hear "set" late: the turn starts after it (a word lost).
    assert worn.audio.size <= fresh.audio.size - 8 * WINDOW, (worn.audio.size, fresh.audio.size)
    # Cleared after the passage's turn: the same turn as in a fresh stream, to a window or two.
    assert abs(kept.audio.size - fresh.audio.size) <= 2 * WINDOW, (kept.audio.size, fresh.audio.size)
