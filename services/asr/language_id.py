"""Spoken language per VAD segment, so that a file or a stream that mixes languages (Vietnamese
and English, say) keeps both.

Whisper decides the language once per 30 s window, from the window's start: a 2.5 s English
sentence after 13 s of Vietnamese is decoded as Vietnamese (lost or mangled), and
faster-whisper's `multilingual=True` still decides per window. Here the recording's main language
is detected as Whisper does (on the first 30 s) to start from, and every segment is screened on a short
encoder input (its first LID_WINDOW_S plus LID_PAD_S; encoded LID_BATCH segments at a time). The
short input is cheap but less sure of itself (an English "next" comes out Hindi 0.27, English
0.13; Whisper's padded 30 s window says English 0.81), so a segment that looks like another
language is checked again on the 30 s window, unless the short input is all but certain, and
decoded in the other language only when that check is sure too: on a monolingual recording a
wrong switch would lose the segment's words. A segment that is not clearly in another language
keeps the language of the segment before it. The language reported for the whole recording is
the one most of its speech is in, not the first window's: a file that opens with 20 s of English
and goes on in Vietnamese for ten minutes is a Vietnamese file.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper import WhisperModel

from services.asr.levels import level_up

SAMPLE_RATE = 16_000
LID_WINDOW_S = 3.0  # a segment's language is screened on (at most) its first 3 s...
LID_PAD_S = 1.0  # ...followed by 1 s of padding, as Whisper expects some silence after speech
MIN_SWITCH_S = 1.0  # a segment shorter than this keeps the language before it
SCREEN_PROBABILITY = 0.5  # the short input's guess for another language that earns a second look...
CLEAR_PROBABILITY = 0.95  # ...or is taken at once, when this sure and the current language is
CLEAR_DOUBT = 0.01  # under this (every real switch in the shared mixes; no monolingual segment)
SWITCH_PROBABILITY = 0.8  # the 30 s detection must be this sure of the other language...
CURRENT_LANGUAGE_DOUBT = 0.05  # ...and give the current language less than this, for a switch

LID_BATCH = 16  # segments encoded at once: memory stays bounded whatever the file's length
# Whisper detects on the first 30 s window; its features need only the audio around it (the STFT looks
# 200 samples ahead), so the rest of a long file is not featurized for it.
DETECTION_AUDIO = (30 + 1) * SAMPLE_RATE

LanguageProbabilities = dict[str, float]


@dataclass(frozen=True)
class LanguageRun:
    """Consecutive speech segments (sample offsets) that are decoded in one language."""

    language: str
    speech: list[dict[str, int]]


def detect_languages(
    model: WhisperModel, audio: np.ndarray, speech: Sequence[dict[str, int]]
) -> list[LanguageProbabilities]:
    """Language probabilities of every speech segment (sample offsets into `audio`)."""
    if not speech:
        return []
    window, padded = int(LID_WINDOW_S * SAMPLE_RATE), int((LID_WINDOW_S + LID_PAD_S) * SAMPLE_RATE)
    inputs = []
    for segment in speech:
        clip = level_up(audio[segment["start"] : min(segment["end"], segment["start"] + window)])
        inputs.append(np.pad(clip, (0, padded - clip.size)))
    results = []
    for start in range(0, len(inputs), LID_BATCH):
        features = np.stack([model.feature_extractor(clip) for clip in inputs[start : start + LID_BATCH]])
        features = features[..., : features.shape[-1] // 2 * 2]  # the encoder halves the frame count
        results += model.model.detect_language(model.encode(features))
    return [{token[2:-2]: probability for token, probability in result} for result in results]


def detect_padded(model: WhisperModel, clip: np.ndarray) -> LanguageProbabilities:
    """Whisper's own detection: `clip` (its first 30 s) padded to the 30 s window."""
    _, _, probabilities = model.detect_language(level_up(clip))
    return dict(probabilities)


def looks_switched(guess: LanguageProbabilities, duration_s: float, current: str) -> bool:
    """Whether a short-input guess says a segment may be in another language than `current`."""
    top = max(guess, key=guess.__getitem__)
    return top != current and duration_s >= MIN_SWITCH_S and guess[top] >= SCREEN_PROBABILITY


def sure_language(probabilities: LanguageProbabilities, current: str) -> str:
    """The top language of a 30 s detection if it is sure and `current` is unlikely, else `current`."""
    top = max(probabilities, key=probabilities.__getitem__)
    sure = probabilities[top] >= SWITCH_PROBABILITY and probabilities.get(current, 0.0) < CURRENT_LANGUAGE_DOUBT
    return top if sure else current


def segment_language(model: WhisperModel, clip: np.ndarray, guess: LanguageProbabilities, current: str) -> str:
    """`current`, unless the segment `clip` is clearly in another language (screened on `guess`,
    its short-input detection, then checked on the 30 s window)."""
    if not looks_switched(guess, clip.size / SAMPLE_RATE, current):
        return current
    top = max(guess, key=guess.__getitem__)
    if guess[top] >= CLEAR_PROBABILITY and guess.get(current, 0.0) < CLEAR_DOUBT:
        return top  # a 30 s check costs a full encode (~2 s on one CPU thread): skip it when this clear
    return sure_language(detect_padded(model, clip), current)


def language_runs(
    model: WhisperModel, audio: np.ndarray, speech: list[dict[str, int]], language: str | None
) -> tuple[list[LanguageRun], str, float | None]:
    """`speech` cut into runs of one language each; the main language and, when detected, its
    probability. A given `language` is used for everything."""
    if language is not None:
        return [LanguageRun(language, speech)], language, None
    _, _, probabilities = model.detect_language(audio[:DETECTION_AUDIO])  # as the raw engine does: the first 30 s
    overall = dict(probabilities)
    main = max(overall, key=overall.__getitem__)
    # Only segments long enough to switch are screened (AMI's 30 s: 7 of 12).
    screened = [i for i, s in enumerate(speech) if s["end"] - s["start"] >= MIN_SWITCH_S * SAMPLE_RATE]
    guesses = dict(zip(screened, detect_languages(model, audio, [speech[i] for i in screened]), strict=True))
    runs: list[LanguageRun] = []
    codes: list[str] = []  # every segment's language
    current = main  # a segment speaks the language of the one before it unless clearly not
    for index, segment in enumerate(speech):
        if index in guesses:
            clip = audio[segment["start"] : segment["end"]]
            current = segment_language(model, clip, guesses[index], current)
        codes.append(current)
        if runs and runs[-1].language == current:
            runs[-1].speech.append(segment)
        else:
            runs.append(LanguageRun(current, [segment]))
    spoken = most_spoken(runs)
    if spoken == main:
        return runs, main, overall[main]
    # Sureness of the most-spoken language: its share in the short-input guesses of its own segments.
    own = [guesses[i].get(spoken, 0.0) for i, code in enumerate(codes) if i in guesses and code == spoken]
    return runs, spoken, float(np.mean(own)) if own else None


def most_spoken(runs: Sequence[LanguageRun]) -> str:
    """The language of the most speech (in samples) over `runs`; the earliest one on a tie."""
    totals: dict[str, int] = {}
    for run in runs:
        totals[run.language] = totals.get(run.language, 0) + sum(s["end"] - s["start"] for s in run.speech)
    return max(totals, key=totals.__getitem__)
