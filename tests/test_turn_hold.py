"""A turn the turn model ended early is held until silence_ms (services/asr/streaming/turns.py): speech that
comes back before then carries it on, so its audio is the silence-only rule's; synthetic VAD probabilities."""

import numpy as np

from services.asr.streaming.turns import TurnCheck, TurnDetector, TurnEnded, TurnSettings, TurnStarted
from services.asr.streaming.vad import WINDOW

SPEECH, PAUSE, FAINT = 0.9, 0.05, 0.4  # FAINT: speech to Silero's hysteresis, too weak to start a turn
SETTINGS = TurnSettings(silence_ms=500, model_pause_ms=200)  # 16 and 6 windows


class Feeder:
    """Feeds a detector windows whose samples differ from each other, so that audio can be compared."""

    def __init__(self, settings: TurnSettings) -> None:
        self.detector = TurnDetector(settings)
        self.count = 0

    def feed(self, prob: float, windows: int) -> list:
        levels = 0.05 + 1e-4 * np.arange(self.count, self.count + windows, dtype=np.float32)
        self.count += windows
        block = np.repeat(levels[:, None], WINDOW, axis=1)
        return self.detector.feed(block, np.full(windows, prob, np.float32))


def model_says_complete(feeder: Feeder) -> TurnEnded:
    """Speech, then the short pause at which the model is asked; it answers "complete"."""
    events = feeder.feed(SPEECH, 30) + feeder.feed(PAUSE, 6)
    (check,) = [e for e in events if isinstance(e, TurnCheck)]
    ended = feeder.detector.end_if_still_paused(check)
    assert ended is not None and ended.by_model and not ended.continues
    return ended


def ends(events: list) -> list[TurnEnded]:
    return [e for e in events if isinstance(e, TurnEnded)]


def silence_only(pattern: list[tuple[float, int]]) -> list[TurnEnded]:
    feeder = Feeder(TurnSettings(silence_ms=500))
    return ends([e for prob, windows in pattern for e in feeder.feed(prob, windows)])


def test_speech_back_before_silence_ms_carries_the_ended_turn_on_with_the_silence_only_rules_audio() -> None:
    feeder = Feeder(SETTINGS)
    early = model_says_complete(feeder)
    assert early.turn == 0 and early.audio.size == 32 * WINDOW  # 30 windows of speech + the 64 ms tail
    assert feeder.detector.listening and not feeder.detector.in_turn
    resumed = feeder.feed(PAUSE, 4) + feeder.feed(SPEECH, 10)  # 10 windows of pause in all: under 16
    assert [e.turn for e in resumed if isinstance(e, TurnStarted)] == [0] and feeder.detector.turn == 0
    (whole,) = ends(feeder.feed(PAUSE, 16))
    (reference,) = silence_only([(SPEECH, 30), (PAUSE, 10), (SPEECH, 10), (PAUSE, 16)])
    assert whole.turn == 0 and whole.continues and not whole.by_model
    assert np.array_equal(whole.audio, reference.audio)


def test_a_held_turn_nobody_goes_on_with_ends_without_a_second_end_and_the_next_turn_is_new() -> None:
    feeder = Feeder(SETTINGS)
    model_says_complete(feeder)
    assert ends(feeder.feed(PAUSE, 16)) == [] and not feeder.detector.listening
    started = feeder.feed(SPEECH, 10)
    (next_turn,) = ends(feeder.feed(PAUSE, 16))
    assert [e.turn for e in started if isinstance(e, TurnStarted)] == [1]
    assert next_turn.turn == 1 and not next_turn.continues and next_turn.audio.size < 20 * WINDOW


def test_faint_speech_in_the_hold_extends_the_held_turn_as_the_silence_only_rule_would() -> None:
    feeder = Feeder(SETTINGS)
    model_says_complete(feeder)
    faint = feeder.feed(FAINT, 3)
    assert not any(isinstance(e, TurnStarted) for e in faint)  # too weak to start a turn...
    (extended,) = ends(feeder.feed(PAUSE, 16))  # ...but it is part of this one
    (reference,) = silence_only([(SPEECH, 30), (PAUSE, 6), (FAINT, 3), (PAUSE, 16)])
    assert extended.turn == 0 and extended.continues and np.array_equal(extended.audio, reference.audio)


def test_the_end_of_the_stream_flushes_a_held_turn_only_if_speech_extended_it() -> None:
    plain, extended = Feeder(SETTINGS), Feeder(SETTINGS)
    for feeder in (plain, extended):
        model_says_complete(feeder)
    extended.feed(FAINT, 3)
    assert plain.detector.finish() is None
    flushed = extended.detector.finish()
    assert flushed is not None and flushed.continues and flushed.audio.size == (36 + 3) * WINDOW  # all fed


def test_the_turn_after_a_released_hold_has_the_silence_only_rules_pre_roll() -> None:
    """The next turn's pre-roll starts where the silence-only rule ended the held turn, not at the model's end:
    it never reaches back into the held turn's pause."""
    feeder = Feeder(SETTINGS)
    model_says_complete(feeder)
    feeder.feed(PAUSE, 13)  # 6 + 13 windows of pause: released at the 16th, the silence-only rule's end
    (after,) = ends(feeder.feed(SPEECH, 10) + feeder.feed(PAUSE, 16))
    (_, reference) = silence_only([(SPEECH, 30), (PAUSE, 19), (SPEECH, 10), (PAUSE, 16)])
    assert after.turn == 1 and np.array_equal(after.audio, reference.audio)
