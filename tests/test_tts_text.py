"""Sentence splitting and the 24 kHz output conversion of the TTS service."""

import numpy as np

from services.tts.service import to_output_pcm
from services.tts.text import MAX_PIECE_CHARS, sentences


def test_sentences_split_latin_and_cjk_text() -> None:
    assert sentences("Hello there. How are you?  Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert sentences("Well. Then, what?") == ["Well.", "Then, what?"]  # only the first sentence is split
    assert sentences("こんにちは。今日は晴れです！散歩") == ["こんにちは。", "今日は晴れです！", "散歩"]
    assert sentences("Line one\nLine two") == ["Line one", "Line two"]
    assert sentences(" ... !! ") == []  # nothing to say


def test_the_first_clause_is_said_on_its_own() -> None:
    assert sentences("Hello there, how are you? Fine.") == ["Hello there,", "how are you?", "Fine."]
    assert sentences("こんにちは、ご用件をどうぞ。") == ["こんにちは、", "ご用件をどうぞ。"]
    assert sentences("Hi, you.") == ["Hi, you."]  # too short a clause to be worth it


def test_long_sentences_are_cut_at_clause_marks() -> None:
    text = ", ".join(["word"] * 120) + "."
    pieces = sentences(text)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces)
    assert " ".join(pieces).replace("  ", " ") == text


def test_output_is_24k_int16_and_keeps_the_pitch() -> None:
    rate = 22_050
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pcm = np.frombuffer(to_output_pcm(tone, rate), dtype="<i2")
    assert abs(pcm.size - 24_000) <= 2
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 24_000 / pcm.size - 440) < 2
    assert abs(np.abs(pcm).max() / 32767 - 0.5) < 0.02
