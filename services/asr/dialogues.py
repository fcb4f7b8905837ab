"""Who said which word: words go to the speaker whose turns overlap them most, and consecutive
words of one speaker form a dialogue turn (a long pause also starts a new one)."""

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


def speaker_of(word: Word, turns: list[SpeakerTurn]) -> int:
    """The speaker overlapping the word most; without overlap, the nearest turn's speaker."""
    overlap: dict[int, float] = {}
    for turn in turns:
        shared = min(word.end, turn.end) - max(word.start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=overlap.get)
    middle = (word.start + word.end) / 2
    nearest = min(turns, key=lambda t: min(abs(middle - t.start), abs(middle - t.end)))
    return nearest.speaker


def build_dialogues(words: list[Word], turns: list[SpeakerTurn], max_pause_s: float) -> list[Dialogue]:
    if not words:
        return []
    speakers = [speaker_of(w, turns) if turns else 0 for w in words]
    names: dict[int, str] = {}
    dialogues: list[Dialogue] = []
    previous_end = None
    for word, speaker in zip(words, speakers, strict=True):
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
