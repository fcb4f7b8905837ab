"""Sentence splitting (and the first piece known before a sentence is complete) and the 24 kHz output
conversion of the TTS service."""

import numpy as np
import pytest

from bench.tts_first_piece import HELD_OUT, TUNING
from services.common.text_pieces import (
    MAX_PIECE_CHARS,
    FirstPiece,
    ends_a_clause,
    known_first_piece,
    sentences,
)
from services.tts.service import CLAUSE_PAUSE_S, shorten_final_pause, to_output_pcm


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


def test_a_long_first_sentence_without_a_comma_starts_with_a_few_words_said_as_a_phrase() -> None:
    assert sentences("The quick brown fox jumps over the lazy dog near the river bank. Yes.") == [
        "The quick brown,",
        "fox jumps over the lazy dog near the river bank.",
        "Yes.",
    ]
    assert sentences("Your order shipped this morning.") == ["Your order shipped,", "this morning."]
    # Where a phrase starts within a few words, the cut falls before it; a head never ends in "will".
    assert sentences("We sent the invoice to the address you gave us.")[0] == "We sent the invoice,"
    assert sentences("A technician will call you back within two hours.")[0] == "A technician will call,"
    assert sentences("Is it done now?") == ["Is it done now?"]  # too short to be worth a cut
    assert sentences("Please hold: the line is busy.")[0] == "Please hold:"  # a mark of its own is kept
    # No spaces (Japanese): clause marks only; a cut after a particle read back much worse.
    assert sentences("ご注文の商品は明日の午前中に届く予定です。") == ["ご注文の商品は明日の午前中に届く予定です。"]
    assert sentences("你好我能帮你什么吗？") == ["你好我能帮你什么吗？"]  # Chinese: clause marks only


def test_a_piece_a_sentence_goes_on_after_keeps_a_short_pause() -> None:
    rate = 22_050
    speech = np.full(rate // 2, 0.3, dtype=np.float32)
    piece = np.concatenate([speech, np.zeros(rate // 5, dtype=np.float32)])  # 200 ms of quiet after it
    shortened = shorten_final_pause(piece, rate)
    assert shortened.size == speech.size + int(CLAUSE_PAUSE_S * rate)
    assert shorten_final_pause(speech, rate).size == speech.size  # no pause: nothing cut
    assert ends_a_clause("The quick brown,") and ends_a_clause("今日は、") and not ends_a_clause("Done.")


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


STREAMED = [
    *TUNING,
    *HELD_OUT,
    "You said: the child almost hurt the small dog.",
    "Hello, how can I help you today?",
    "Oh, well I think that we should leave before it rains.",
    "The quick brown fox jumps, over the lazy dog.",
    "Sure thing, I will send the report to your manager by Friday.",
    "Hi, you.",
    "Yes.",
    "Well, that is a hard one, let me think about it for a moment.",
    "Please hold: the line is busy.",
    "ご注文の商品は、明日の午前中に届く予定です。",
    "I   can   book a table , for four people.",
]


@pytest.mark.parametrize("sentence", STREAMED)
def test_a_first_piece_known_early_is_the_one_the_whole_sentence_gives(sentence: str) -> None:
    """Every prefix of a streamed sentence (as an LLM's tokens come): once a first piece is known it is the
    whole sentence's, and that piece then the rest said uncut hold the sentence's words, none lost or doubled."""
    whole = sentences(sentence)
    known = None
    for end in range(1, len(sentence)):
        if (known := known_first_piece(sentence[:end])) is not None:
            assert known.said == whole[0], (sentence[:end], known, whole)
            break
    if known is None:
        return
    rest = sentence[known.end :].strip()
    assert sentences(rest, cut_first=False) == [rest]  # not cut again
    written = " ".join(sentence[: known.end].split())  # what the piece says, as the sentence has it
    assert known.said in (written, written + ","), (known, written)
    assert rest and whole[1].startswith(rest.split()[0]), (rest, whole)  # the rest starts where the cut is


def test_a_first_piece_is_known_after_its_clause_or_six_words() -> None:
    assert known_first_piece("You said:") is None  # the reply may end there
    assert known_first_piece("You said: t") == FirstPiece("You said:", 9)
    assert known_first_piece("The quick brown fox jumps over") is None  # "over" may go on ("overall")
    assert known_first_piece("The quick brown fox jumps over ") == FirstPiece("The quick brown,", 15)
    assert known_first_piece("ご注文の商品は、明") == FirstPiece("ご注文の商品は、", 8)
    assert known_first_piece("Hi, yo") is None and known_first_piece("Yes. And") is None
    assert known_first_piece("ご注文の商品は明日の午前中に") is None  # no spaces: clause marks only
