"""End-of-turn logic on synthetic VAD probabilities (no model), and the wire parser."""

import base64
import json

import numpy as np
import pytest

from services.asr.streaming.turns import PartialDue, PauseStarted, TurnDetector, TurnEnded, TurnSettings
from services.asr.streaming.vad import WINDOW
from services.common.protocols.base import ProtocolError
from services.common.protocols.transcribe import AudioChunk, ConfigMessage, EndMessage, parse_client_message

LOUD = np.full(WINDOW, 0.1, np.float32)
QUIET = np.full(WINDOW, 0.001, np.float32)


def run(detector: TurnDetector, pattern: list[tuple[float, np.ndarray, int]]) -> list:
    events = []
    for prob, window, count in pattern:
        windows = np.stack([window] * count)
        events += detector.feed(windows, np.full(count, prob, np.float32))
    return events


def test_turn_ends_after_silence_ms_of_non_speech() -> None:
    detector = TurnDetector(TurnSettings(silence_ms=300, partial_interval=1.0))
    events = run(detector, [(0.9, LOUD, 50), (0.05, LOUD, 8)])  # 1.6 s speech, 256 ms pause
    assert not any(isinstance(e, TurnEnded) for e in events)
    assert any(isinstance(e, PauseStarted) for e in events)
    events = run(detector, [(0.05, LOUD, 2)])  # 320 ms of silence in total
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert len(ended) == 1 and ended[0].turn == 0
    assert ended[0].audio.size == 52 * WINDOW  # up to the last voiced window + a 64 ms tail
    assert not detector.in_turn and detector.turn == 1


def test_partials_every_interval_of_voiced_audio() -> None:
    detector = TurnDetector(TurnSettings(silence_ms=300, partial_interval=1.0))
    events = run(detector, [(0.9, LOUD, 100)])  # 3.2 s of speech
    partials = [e for e in events if isinstance(e, PartialDue)]
    assert len(partials) == 3
    assert [p.audio.size for p in partials] == sorted(p.audio.size for p in partials)


def test_hysteresis_keeps_a_turn_alive_while_probability_stays_above_the_lower_bound() -> None:
    detector = TurnDetector(TurnSettings(silence_ms=300, vad_threshold=0.5, vad_hysteresis=0.15))
    run(detector, [(0.9, LOUD, 10)])
    events = run(detector, [(0.4, LOUD, 20)])  # below 0.5 but above 0.35: still speech
    assert detector.in_turn and not any(isinstance(e, TurnEnded) for e in events)
    events = run(detector, [(0.2, LOUD, 10)])
    assert any(isinstance(e, TurnEnded) for e in events)


def test_volume_gate_keeps_faint_audio_at_the_noise_floor_from_starting_a_turn() -> None:
    detector = TurnDetector(TurnSettings(volume_threshold=0.01))
    run(detector, [(0.0, QUIET, 20)])  # 0.64 s of background at 0.001: the stream's noise floor
    assert run(detector, [(0.99, QUIET, 100)]) == []  # the VAD fires, but nothing is louder than the floor
    assert not detector.in_turn


def test_quiet_speech_over_a_quieter_floor_starts_a_turn_below_volume_threshold() -> None:
    faint_floor, quiet_voice = np.full(WINDOW, 0.0002, np.float32), np.full(WINDOW, 0.003, np.float32)
    detector = TurnDetector(TurnSettings(volume_threshold=0.01, silence_ms=300))
    run(detector, [(0.0, faint_floor, 20)])
    events = run(detector, [(0.95, quiet_voice, 40), (0.0, faint_floor, 10)])  # −50 dBFS speech
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert len(ended) == 1 and ended[0].voiced_s == pytest.approx(40 * WINDOW / 16_000)


def test_a_running_turn_is_never_cut_by_the_volume_gate() -> None:
    detector = TurnDetector(TurnSettings(volume_threshold=0.01, silence_ms=300))
    run(detector, [(0.0, QUIET, 20), (0.95, LOUD, 20)])
    # The talker drops to the floor's level while the VAD still hears speech: the turn goes on.
    events = run(detector, [(0.95, QUIET, 30)])
    assert detector.in_turn and not any(isinstance(e, TurnEnded) for e in events)
    ended = [e for e in run(detector, [(0.0, QUIET, 10)]) if isinstance(e, TurnEnded)]
    assert len(ended) == 1 and ended[0].voiced_s == pytest.approx(50 * WINDOW / 16_000)


def test_no_partial_from_under_half_a_second() -> None:
    detector = TurnDetector(TurnSettings(partial_interval=0.2, min_partial_s=0.5))
    partials = [e for e in run(detector, [(0.9, LOUD, 40)]) if isinstance(e, PartialDue)]
    assert partials and min(p.audio.size for p in partials) >= 0.5 * 16_000 - WINDOW


def test_short_clicks_do_not_start_a_turn() -> None:
    detector = TurnDetector(TurnSettings(min_speech_ms=96))
    assert run(detector, [(0.9, LOUD, 2), (0.0, QUIET, 20)] * 5) == []


def test_overlong_turn_is_cut() -> None:
    detector = TurnDetector(TurnSettings(max_turn_s=5.0))
    ended = [e for e in run(detector, [(0.9, LOUD, 200)]) if isinstance(e, TurnEnded)]
    assert len(ended) == 1


def pcm_message(payload: bytes) -> str:
    return json.dumps({"audio_event": {"audio_base_64": base64.b64encode(payload).decode()}})


def test_parser_accepts_the_three_message_kinds() -> None:
    assert isinstance(parse_client_message(pcm_message(b"\x00\x00" * 160)), AudioChunk)
    assert parse_client_message('{"type": "config", "ssap": true}') == ConfigMessage(ssap=True)
    assert isinstance(parse_client_message('{"type": "end"}'), EndMessage)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("nope", "not valid json"),
        ("[]", "json object"),
        (pcm_message(b"\x00"), "odd byte count"),
        ('{"audio_event": {"audio_base_64": "@@@"}}', "base64"),
        ('{"type": "dance"}', "unknown message"),
        ('{"type": "config", "ssap": "maybe"}', "invalid message: ssap"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ('{"foo": 1}', "unknown message"),
        ('{"audio_event": {}}', "audio_base_64"),
    ],
)
def test_parser_rejects_bad_messages(text: str, needle: str) -> None:
    with pytest.raises(ProtocolError, match=f"(?i){needle}"):
        parse_client_message(text)
