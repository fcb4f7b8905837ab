"""The turn-completion model (Pipecat's smart-turn v3.2, models/ from `make install`) on the shared speech:
what it says at the end of a sentence and inside one, a stream's turn ended at the short pause and a
sentence with short pauses kept whole, the model off per stream and per setting, a missing model file.

Features: faster-whisper's numpy log-mel of services/asr/streaming/turn_model.py against transformers'
WhisperFeatureExtractor(chunk_length=8) (checked once in a scratch venv with transformers 4.x, not a project
dependency) on the model inputs of en_jfk, en_LJ050-0131, sb_spk1_snt1 and LibriSpeech 2414-0002: max abs
difference 6.5e-5 (the features span about [-1.5, 1.5])."""

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.asr.streaming.turn_model import SAMPLES, TurnModel, model_input
from services.asr.streaming.turns import TurnCheck, TurnDetector, TurnSettings
from services.asr.streaming.vad import WINDOW, StreamingVad
from tests.in_process import ServiceApp
from tests.streaming import stream_events, user_turns
from tests.text import normalize
from tests.word_recall import load

RATE = 16_000
MODEL = "models/smart-turn-v3.2-cpu.onnx"
JFK_REST = "ask not what your country can do for you ask what you can do for your country"


def checks(audio: np.ndarray, silence_ms: int = 2000) -> list[tuple[float, TurnCheck]]:
    """The model's questions (stream time, check) when `audio` and 1 s of silence are streamed."""
    audio = np.concatenate([audio, np.zeros(RATE, np.float32)])
    vad, detector = StreamingVad(), TurnDetector(TurnSettings(silence_ms=silence_ms, model_pause_ms=200))
    found = []
    for start in range(0, audio.size, RATE // 10):
        for event in detector.feed(*vad.process(audio[start : start + RATE // 10])):
            if isinstance(event, TurnCheck):
                found.append((detector.windows_seen * WINDOW / RATE, event))
    return found


def test_the_model_input_is_the_last_8_s_zero_padded_in_front_and_normalised() -> None:
    short = model_input(np.ones(RATE, np.float32))
    assert short.size == SAMPLES and short[0] < 0 < short[-1] and abs(short.mean()) < 1e-4
    long = np.arange(2 * SAMPLES, dtype=np.float32)
    assert np.allclose(model_input(long), model_input(long[-SAMPLES:]))


def test_a_check_is_asked_once_per_pause_and_is_stale_once_speech_is_back() -> None:
    loud = np.full((1, WINDOW), 0.1, np.float32)
    detector = TurnDetector(TurnSettings(silence_ms=1000, model_pause_ms=200))

    def feed(prob: float, count: int) -> list:
        return [e for _ in range(count) for e in detector.feed(loud, np.array([prob], np.float32))]

    feed(0.9, 30)
    (first,) = [e for e in feed(0.05, 12) if isinstance(e, TurnCheck)]  # 384 ms of pause: asked at 192 ms
    assert first.audio.size == 36 * WINDOW  # the stream's audio up to the check (under 8 s)
    # While the model is asked, more pause is fed; speech, or silence reaching silence_ms, waits for its answer.
    silent = np.full(1, 0.05, np.float32)
    assert not detector.decisive(silent) and detector.decisive(np.full(1, 0.9, np.float32))
    assert detector.decisive(np.repeat(silent, 20))  # 12 + 20 windows: 1024 ms >= silence_ms
    feed(0.9, 5)
    assert detector.end_if_still_paused(first) is None and detector.in_turn  # speech came back
    (second,) = [e for e in feed(0.05, 7) if isinstance(e, TurnCheck)]
    ended = detector.end_if_still_paused(second)
    assert ended is not None and ended.audio.size == (47 + 2) * WINDOW and not detector.in_turn
    assert detector.end_if_still_paused(second) is None  # that turn is over


@pytest.mark.service  # the real ONNX model on real speech
def test_the_model_says_complete_after_a_finished_sentence_and_not_inside_one() -> None:
    model = TurnModel(MODEL)
    assert model.features(np.zeros(RATE, np.float32)).shape == (80, 800)
    jfk = {round(t, 1): model.complete_probability(c.audio) for t, c in checks(load("asr/en_jfk.flac"))}
    inside = [p for t, p in jfk.items() if 3.8 <= t <= 8.2]  # after "ask not", "for you,", "ask what you can do"
    assert len(inside) == 3 and max(inside) < 0.5, jfk
    assert jfk[max(jfk)] >= 0.5, jfk  # "...for your country."
    (end,) = checks(load("asr/sb_spk2_snt3.wav"))  # "tear a thin sheet from the yellow pad"
    assert model.complete_probability(end[1].audio) >= 0.5
    # LJ050-0131 is cut by its corpus inside a sentence: "...thereunder. In this regard"
    *_, (_, cut) = checks(load("asr/en_LJ050-0131.wav"))
    assert model.complete_probability(cut.audio) < 0.5


def finals(client: TestClient, audio: np.ndarray, query: str) -> list[str]:
    """The user's turns (a final that replaces the one before it taking its place), normalised."""
    return [normalize(text) for text in user_turns(stream_events(client, audio, query))]


def wire_finals(events: list[dict]) -> list[tuple[str, bool]]:
    """Every final as sent: (normalised text, whether it replaces the one before it)."""
    return [
        (normalize(e["text"]), bool(e.get("replaces_previous")))
        for e in events
        if e["type"] == "transcript" and e["is_final"]
    ]


def two_sentences(gap_s: float = 0.6) -> np.ndarray:
    """Two finished sentences `gap_s` apart, then as much silence."""
    gap = np.zeros(int(gap_s * RATE), np.float32)
    return np.concatenate([load("asr/sb_spk2_snt3.wav"), gap, load("asr/sb_spk2_snt2.wav"), gap])


@pytest.mark.slow  # Whisper decodes every turn on CPU
def test_the_model_ends_a_finished_sentence_early_and_a_turn_the_user_goes_on_with_is_replaced_whole(
    service_app: ServiceApp, tmp_path: Path
) -> None:
    """At silence_ms 1500 the 0.6 s pause is inside one turn by silence alone. The model ends the first
    sentence at the short pause (an early final); the user goes on before silence_ms, so the turn goes on and
    its final replaces the early one: the same turns, every word in them, as the silence-only rule. At
    silence_ms 500 the pause ends the turn either way: two finals, neither replacing."""
    with service_app("asr", tmp_path, ASR_SOLO_THREADS="1") as client:  # streams only: no solo copy
        assert client.get("/readyz").json()["turn_model"]["model"] == MODEL
        assert "load_seconds" in client.get("/readyz").json()["turn_model"]
        with_model = stream_events(client, two_sentences(), "silence_ms=1500&turn_model=true")
        without = finals(client, two_sentences(), "silence_ms=1500&turn_model=false")
        by_default = finals(client, two_sentences(), "silence_ms=1500")  # STREAM_TURN_MODEL_DEFAULT: off
        split = stream_events(client, two_sentences(), "silence_ms=500&turn_model=true")
        split_without = finals(client, two_sentences(), "silence_ms=500&turn_model=false")
        jfk = finals(
            client,
            np.concatenate([load("asr/en_jfk.flac"), np.zeros(RATE, np.float32)]),
            "silence_ms=1500&turn_model=true",
        )
    (early, first_replaced), (whole, replaces) = wire_finals(with_model)
    # "sheet" reads "sheed" in the whole turn on some CPUs (int8 kernels differ): the test is that nothing is lost
    assert "yellow pad" in early and "living" not in early and not first_replaced, with_model
    assert replaces and "yellow pad" in whole and "living" in whole, with_model
    assert len(without) == 1 and [normalize(t) for t in user_turns(with_model)] == without, (with_model, without)
    assert by_default == without, by_default
    assert [replaced for _, replaced in wire_finals(split)] == [False, False], split
    assert [text for text, _ in wire_finals(split)] == split_without, (split, split_without)
    # JFK's second sentence has pauses of 0.26, 1.09 and 0.61 s: the turns end as by silence, every word kept.
    assert len(jfk) == 1 and jfk[0].endswith(JFK_REST), jfk


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "error"),
    [("off", "NotConfigured: STREAM_TURN_MODEL is off"), ("no/such/turn.onnx", "FileNotFoundError: no turn model at")],
)
def test_without_a_model_streams_end_turns_on_silence_and_readiness_says_why(
    service_app: ServiceApp, tmp_path: Path, setting: str, error: str
) -> None:
    with service_app("asr", tmp_path, STREAM_TURN_MODEL=setting, ASR_SOLO_THREADS="1") as client:
        ready = client.get("/readyz")
        text = finals(client, two_sentences(), "silence_ms=500&turn_model=true")
        one_turn = finals(client, two_sentences(), "silence_ms=1500&turn_model=true")
    assert ready.status_code == 200 and ready.json()["turn_model"]["error"].startswith(error), ready.text
    assert len(text) == 2 and len(one_turn) == 1, (text, one_turn)
