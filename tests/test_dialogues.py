"""Word-to-speaker alignment, speaker-count validation and the clustering helpers (no models)."""

import random

import numpy as np
import pytest

from services.asr.dialogues import Word, build_dialogues, speakers_of
from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance
from services.asr.diarization.embedded import cluster, label_speech, mel_spectrogram, nearest_center
from services.asr.routers.diarize import speaker_count
from services.common.errors import InvalidInput

TURNS = [SpeakerTurn(0.0, 2.0, 0), SpeakerTurn(2.0, 4.0, 1), SpeakerTurn(4.5, 6.0, 0)]


def test_a_word_goes_to_the_speaker_it_overlaps_most() -> None:
    words = [Word(" hi", 1.8, 2.4), Word(" yo", 4.1, 4.3)]
    # 0.2 s with 0, 0.4 s with 1; then no overlap: the nearest turn edge is the end of 1's turn at 4.0
    assert speakers_of(words, TURNS) == [1, 1]


def speaker_by_definition(word: Word, turns: list[SpeakerTurn]) -> int:
    """The rule written plainly (every turn for every word): the speaker overlapping the word most,
    ties to the first listed; without overlap, the turn with an edge nearest the word's middle."""
    overlap: dict[int, float] = {}
    for turn in turns:
        shared = min(word.end, turn.end) - max(word.start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=overlap.get)
    middle = (word.start + word.end) / 2
    return min(turns, key=lambda t: min(abs(middle - t.start), abs(middle - t.end))).speaker


def random_case(rng: random.Random) -> tuple[list[Word], list[SpeakerTurn]]:
    """Times on a 0.1 s grid (ties and shared edges are common), overlapping turns, zero-length and
    out-of-order words, as pyannote turns and Whisper words can be."""
    turns = []
    for _ in range(rng.randint(1, 12)):
        start = rng.randint(0, 100) / 10
        turns.append(SpeakerTurn(start, start + rng.randint(0, 30) / 10, rng.randint(0, 3)))
    if rng.random() < 0.5:
        turns.sort(key=lambda t: (t.start, t.end))
    words = []
    for _ in range(rng.randint(0, 40)):
        start = rng.randint(0, 130) / 10
        words.append(Word(" w", start, start + rng.randint(0, 8) / 10))
    if rng.random() < 0.7:
        words.sort(key=lambda w: w.start)
    return words, turns


def test_the_sweep_gives_every_word_the_speaker_the_definition_gives() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        words, turns = random_case(rng)
        assert speakers_of(words, turns) == [speaker_by_definition(w, turns) for w in words], (words, turns)


def test_an_hour_of_words_and_turns_in_one_sweep() -> None:
    """10,000 words and 2,000 turns (an hour of conversation) against the definition, on a sample."""
    turns = [SpeakerTurn(i * 1.8, i * 1.8 + 1.9, i % 3) for i in range(2000)]
    words = [Word(" w", i * 0.36, i * 0.36 + 0.3) for i in range(10_000)]
    speakers = speakers_of(words, turns)
    for i in range(0, len(words), 97):
        assert speakers[i] == speaker_by_definition(words[i], turns)


def test_dialogues_split_on_speaker_change_and_long_pauses() -> None:
    words = [
        Word(" Hello", 0.1, 0.5),
        Word(" there.", 0.6, 1.0),
        Word(" Hi!", 2.2, 2.6),
        Word(" Bye.", 4.6, 5.0),
        Word(" Again.", 5.1, 5.5),
    ]
    dialogues = build_dialogues(words, TURNS, max_pause_s=1.5)
    assert [(d.speaker, d.text) for d in dialogues] == [
        ("SPEAKER_00", "Hello there."),
        ("SPEAKER_01", "Hi!"),
        ("SPEAKER_00", "Bye. Again."),
    ]
    assert dialogues[0].start == 0.1 and dialogues[0].end == 1.0
    paused = build_dialogues([Word(" a", 0.1, 0.2), Word(" b", 1.9, 2.0)], [SpeakerTurn(0, 3, 0)], 1.5)
    assert len(paused) == 2 and {d.speaker for d in paused} == {"SPEAKER_00"}


def test_speakers_are_named_in_order_of_first_appearance() -> None:
    turns = renumber_by_first_appearance([SpeakerTurn(3, 4, 7), SpeakerTurn(0, 1, 2), SpeakerTurn(1, 2, 7)])
    assert [t.speaker for t in turns] == [0, 1, 1]
    dialogues = build_dialogues([Word(" x", 0.2, 0.4), Word(" y", 3.2, 3.4)], turns, 5.0)
    assert [d.speaker for d in dialogues] == ["SPEAKER_00", "SPEAKER_01"]


def test_no_words_no_dialogues() -> None:
    assert build_dialogues([], TURNS, 1.5) == []


@pytest.mark.parametrize(
    ("exact", "low", "high", "needle"),
    [(None, 3, 2, "greater than"), (5, 1, 3, "outside"), (1, 2, None, "outside")],
)
def test_inconsistent_speaker_counts_are_refused(exact, low, high, needle) -> None:
    with pytest.raises(InvalidInput, match=needle):
        speaker_count(exact, low, high, limit=8)


def test_speaker_count_defaults() -> None:
    assert speaker_count(None, None, None, limit=8) == SpeakerCount(None, 1, 8)
    assert speaker_count(2, None, None, limit=8) == SpeakerCount(2, 1, 8)


def _blobs(sizes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(len(sizes), 16)
    points, labels = [], []
    for label, size in enumerate(sizes):
        points.append(centres[label] + rng.normal(0, 0.05, (size, 16)))
        labels += [label] * size
    return np.vstack(points), np.array(labels)


def test_clustering_finds_well_separated_speakers_and_honours_counts() -> None:
    points, truth = _blobs([12, 9, 7])
    found = cluster(points, SpeakerCount(), threshold=0.5, min_windows=3)
    assert len(set(found)) == 3
    assert all(len(set(found[truth == k])) == 1 for k in range(3))
    assert len(set(cluster(points, SpeakerCount(exact=2), threshold=0.5, min_windows=3))) == 2
    assert len(set(cluster(points, SpeakerCount(maximum=2), threshold=0.5, min_windows=3))) == 2
    assert len(set(cluster(points, SpeakerCount(minimum=4), threshold=0.5, min_windows=1))) == 4


def test_outliers_do_not_become_speakers() -> None:
    points, truth = _blobs([12, 10, 1])
    found = cluster(points, SpeakerCount(), threshold=0.5, min_windows=3)
    assert len(set(found)) == 2
    exact = cluster(points, SpeakerCount(exact=2), threshold=0.5, min_windows=3)
    assert len(set(exact[truth == 0])) == 1 and len(set(exact[truth == 1])) == 1
    assert exact[truth == 0][0] != exact[truth == 1][0]


def test_label_speech_joins_same_speaker_across_short_gaps() -> None:
    rate = 16_000
    speech = [{"start": 0, "end": 2 * rate}, {"start": int(2.5 * rate), "end": 4 * rate}]
    centres = np.array([0.8, 1.5, 3.0, 3.5])
    turns = label_speech(4 * rate, speech, centres, np.array([0, 0, 0, 0]), fill_gap_s=1.0)
    assert turns == [SpeakerTurn(0.0, 4.0, 0)]
    turns = label_speech(4 * rate, speech, centres, np.array([0, 0, 1, 1]), fill_gap_s=1.0)
    assert [(t.speaker, round(t.start, 2), round(t.end, 2)) for t in turns] == [(0, 0.0, 2.0), (1, 2.5, 4.0)]


def test_each_frame_takes_the_nearest_window_without_a_frames_by_windows_matrix() -> None:
    rng = np.random.default_rng(0)
    centers = np.unique(rng.uniform(0, 100, 300))
    times = np.concatenate([rng.uniform(-5, 105, 4000), centers, (centers[:-1] + centers[1:]) / 2])
    expected = np.abs(times[:, None] - centers[None, :]).argmin(axis=1)  # ties go to the earlier window
    assert (nearest_center(times, centers) == expected).all()
    hour = np.arange(0, 3600, 0.01)  # an hour of 10 ms frames against 4,799 windows: no 13 GB matrix
    assert nearest_center(hour, np.arange(0.8, 3600, 0.75)).max() == 4798  # the last window


def test_the_mel_spectrogram_in_chunks_is_resemblyzers() -> None:
    from resemblyzer.audio import wav_to_mel_spectrogram

    wave = np.random.default_rng(0).normal(0, 0.1, 16_000 * 70 + 37).astype(np.float32)  # 70 s: two chunks
    expected = wav_to_mel_spectrogram(wave)
    chunked = mel_spectrogram(wave)
    assert chunked.shape == expected.shape and np.abs(chunked - expected).max() < 1e-6
