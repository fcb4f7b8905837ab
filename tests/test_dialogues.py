"""Word-to-speaker alignment, speaker-count validation and the clustering helpers (no models)."""

import numpy as np
import pytest

from services.asr.dialogues import Word, build_dialogues, speaker_of
from services.asr.diarization.base import SpeakerCount, SpeakerTurn, renumber_by_first_appearance
from services.asr.diarization.embedded import cluster, label_speech
from services.asr.routers.diarize import speaker_count
from services.common.errors import InvalidInput

TURNS = [SpeakerTurn(0.0, 2.0, 0), SpeakerTurn(2.0, 4.0, 1), SpeakerTurn(4.5, 6.0, 0)]


def test_a_word_goes_to_the_speaker_it_overlaps_most() -> None:
    assert speaker_of(Word(" hi", 1.8, 2.4), TURNS) == 1  # 0.2 s with 0, 0.4 s with 1
    assert speaker_of(Word(" yo", 4.1, 4.3), TURNS) == 1  # no overlap: nearest turn ends at 4.0


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
