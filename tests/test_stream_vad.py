"""The stream's Silero state is cleared in clear non-speech between turns (services/asr/streaming/vad.py): a
command after a long read passage is heard as in a fresh stream. Real Silero on real speech; no Whisper."""

import numpy as np

from services.asr.streaming.turns import TurnDetector, TurnEnded, TurnSettings
from services.asr.streaming.vad import WINDOW, StreamingVad
from tests.audio_files import at_level
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


def turns(audio: np.ndarray, vad: StreamingVad) -> list[TurnEnded]:
    """Every turn of `audio` streamed in 100 ms chunks at the default silence_ms, with `vad`."""
    detector, ended = TurnDetector(TurnSettings()), []
    for start in range(0, audio.size, RATE // 10):
        ended += [e for e in detector.feed(*vad.process(audio[start : start + RATE // 10])) if isinstance(e, TurnEnded)]
        vad.reset_if_due(detector.listening)
    return ended + [e for e in [detector.finish()] if e is not None]


def test_a_quiet_stream_is_heard_at_a_speaking_level() -> None:
    """At −48 dBFS Silero alone misses "ask not" between JFK's pauses; raised by the gain it hears the same
    turns as at −26 dBFS. A stream at a speaking level is not raised."""
    jfk = np.concatenate([load("asr/en_jfk.flac"), np.zeros(RATE, np.float32)])
    usual = StreamingVad()
    heard = [t.voiced_s for t in turns(at_level(jfk, -26), usual)]
    assert usual.gain < 1.5, usual.gain
    unraised = StreamingVad()
    unraised.level.observe = lambda windows, probs: None  # never asks for a gain: Silero hears the stream as it is
    quiet = StreamingVad()
    missed, raised = turns(at_level(jfk, -48), unraised), turns(at_level(jfk, -48), quiet)
    assert 10 ** (16 / 20) <= quiet.gain <= 10 ** (28 / 20), quiet.gain  # 22 dB, within its estimate's spread
    assert len(missed) < len(heard) == len(raised), (len(missed), heard, [t.voiced_s for t in raised])
    # The first phrase is heard at gain 1 (the level is not known yet).
    assert sum(t.voiced_s for t in raised) >= 0.9 * sum(heard)


def test_noise_after_a_quiet_command_does_not_carry_the_turn_on() -> None:
    """The gain changes only with a cleared state: a step under a running state made Silero hear the noise
    after "cancel timer" (a 16 dB SNR recording) at −48 dBFS as speech, and the turn went on."""
    command = np.concatenate([load("spoof/en_stp_human_cancel_timer.wav"), np.zeros(RATE, np.float32)])
    usual = turns(at_level(command, -26), StreamingVad())
    quiet = turns(at_level(command, -48), StreamingVad())
    assert len(quiet) == len(usual) == 1, (len(quiet), len(usual))
    # Its start is late (the stream's first speech is heard at gain 1); its end is where it ends at −26 dBFS.
    assert quiet[0].audio.size <= usual[0].audio.size + 3 * WINDOW, (quiet[0].audio.size, usual[0].audio.size)
