"""Who said which word: words go to the speaker whose turns overlap them most, and consecutive
words of one speaker form a dialogue turn (a long pause also starts a new one). One sweep over
words and turns sorted by start: O((words + turns) log turns), not words × turns."""

import bisect
from dataclasses import dataclass

from services.asr.diarization.base import SpeakerTurn


@dataclass(frozen=True)
class Word:
    word: str  # as Whisper spells it, leading space included (none for zh/ja)
    start: float
    end: float


@dataclass
class Dialogue:
    speaker: str
    start: float
    end: float
    text: str
    words: list[Word]


def shared_seconds(word: Word, turn: SpeakerTurn) -> float:
    return min(word.end, turn.end) - max(word.start, turn.start)


class NearestEdge:
    """The turn with an edge (start or end) nearest a time; of equally near ones, the first listed."""

    def __init__(self, turns: list[SpeakerTurn]) -> None:
        self.first: dict[float, int] = {}
        for index, turn in enumerate(turns):
            self.first.setdefault(turn.start, index)
            self.first.setdefault(turn.end, index)
        self.edges = sorted(self.first)

    def turn_index(self, time: float) -> int:
        at = bisect.bisect_left(self.edges, time)
        near = self.edges[max(at - 1, 0) : at + 1]
        best = min(abs(time - edge) for edge in near)
        return min(self.first[edge] for edge in near if abs(time - edge) == best)


def speakers_of(words: list[Word], turns: list[SpeakerTurn]) -> list[int]:
    """Each word's speaker: the one whose turns overlap it most (ties: the first listed turn's);
    without overlap, the speaker of the turn with the nearest edge to the word's middle."""
    if not turns:
        return [0] * len(words)
    by_start = sorted(range(len(turns)), key=lambda i: turns[i].start)
    nearest = NearestEdge(turns)
    speakers = [0] * len(words)
    active: list[int] = []  # turns that started before the word ends and have not ended before it starts
    added = 0
    for index in sorted(range(len(words)), key=lambda i: words[i].start):
        word = words[index]
        while added < len(by_start) and turns[by_start[added]].start < word.end:
            active.append(by_start[added])
            added += 1
        active = [i for i in active if turns[i].end > word.start]
        overlap: dict[int, float] = {}
        for i in sorted(active):  # in list order, so that ties go as listed
            shared = shared_seconds(word, turns[i])
            if shared > 0:
                overlap[turns[i].speaker] = overlap.get(turns[i].speaker, 0.0) + shared
        if overlap:
            speakers[index] = max(overlap, key=overlap.get)
        else:
            speakers[index] = turns[nearest.turn_index((word.start + word.end) / 2)].speaker
    return speakers


def build_dialogues(words: list[Word], turns: list[SpeakerTurn], max_pause_s: float) -> list[Dialogue]:
    """Blocking (on a budget thread): a long file has thousands of words."""
    names: dict[int, str] = {}
    dialogues: list[Dialogue] = []
    previous_end = None
    for word, speaker in zip(words, speakers_of(words, turns), strict=True):
        name = names.setdefault(speaker, f"SPEAKER_{len(names):02d}")
        paused = previous_end is not None and word.start - previous_end > max_pause_s
        if dialogues and dialogues[-1].speaker == name and not paused:
            dialogues[-1].words.append(word)
            dialogues[-1].end = word.end
        else:
            dialogues.append(Dialogue(name, word.start, word.end, "", [word]))
        previous_end = word.end
    for dialogue in dialogues:
        dialogue.text = "".join(w.word for w in dialogue.words).strip()
    return dialogues
