"""Voice-chat pieces without the fleet: reply parsing, the barge-in detector, the URL allowlist (in detail:
test_voicechat_urls.py), the turn rate."""

import numpy as np
import pytest

from services.voicechat.asr_client import AsrClient
from services.voicechat.bargein import BargeInDetector
from services.voicechat.reply import ReplyParser, Speech
from services.voicechat.session import RateWindow
from services.voicechat.urls import Endpoint, UrlNotAllowed, check_url


def parse(tokens: list[str]) -> tuple[str, list[str], str | None]:
    parser, shown, spoken = ReplyParser(), [], []
    for token in tokens:
        text, speech = parser.feed(token)
        shown.append(text)
        spoken += [s.text for s in speech]
    text, speech = parser.finish()
    return "".join(shown) + text, spoken + [s.text for s in speech], parser.language


def test_sentences_are_released_as_soon_as_they_are_complete() -> None:
    parser = ReplyParser()
    assert parser.feed("Hello there")[1] == []
    assert parser.feed(".")[1] == []  # "." alone may be "3.5" or "..." still coming
    assert parser.feed(" How")[1] == [Speech("Hello there.", "Hello there.")]
    assert parser.feed(" are you?")[1] == []
    assert parse(["こんにちは。", "元気？", "うん"])[1] == ["こんにちは。", "元気？", "うん"]


def test_the_first_sentence_starts_with_the_piece_tts_would_say_first_as_soon_as_it_is_known() -> None:
    """The LLM's tokens as they come: the first piece goes before its sentence is complete, the rest of that
    sentence after it (`continues`: TTS does not cut it again), later sentences whole."""
    reply = "The quick brown fox jumps over the lazy dog near the river bank. You said: yes."
    parser, released = ReplyParser(), []
    for start in range(0, len(reply), 4):
        released += [(start, speech) for speech in parser.feed(reply[start : start + 4])[1]]
    released += [("end", speech) for speech in parser.finish()[1]]
    assert released == [
        (28, Speech("The quick brown,", "The quick brown")),  # at "over ": six words fix the cut
        (
            64,
            Speech(
                "fox jumps over the lazy dog near the river bank.",
                "fox jumps over the lazy dog near the river bank.",
                continues=True,
            ),
        ),
        ("end", Speech("You said: yes.", "You said: yes.")),  # only the first sentence is cut
    ]
    assert parse(["You said", ": t", "he dog."])[1] == ["You said:", "the dog."]
    assert parse(["[ja] ご注文は、明", "日です。"])[1] == ["ご注文は、", "明日です。"]
    assert parse(["Sure thing, I will"])[1] == ["Sure thing,", "I will"]  # a reply cut short
    assert parse(["Yes. Of course I can help with that today."])[1] == ["Yes.", "Of course I can help with that today."]


@pytest.mark.parametrize(
    ("tokens", "shown", "language"),
    [
        (["[e", "n]", " Hel", "lo."], "Hello.", "en"),
        (["[ja]こんにちは。"], "こんにちは。", "ja"),
        (["[note] hi"], "[note] hi", None),  # not a language: kept
        (["Hello [en] there"], "Hello [en] there", None),  # only at the start
        (["[en]"], "", "en"),
    ],
)
def test_language_prefix_is_taken_off(tokens: list[str], shown: str, language: str | None) -> None:
    text, spoken, found = parse(tokens)
    assert (text, found) == (shown, language)
    assert all("[en]" not in s and "[ja]" not in s for s in spoken) or language is None


def tone(ms: int, amplitude: float) -> bytes:
    samples = np.sin(np.arange(16 * ms) / 4) * amplitude * 32767
    return samples.astype("<i2").tobytes()


def test_barge_in_needs_sustained_speech() -> None:
    detector = BargeInDetector(min_ms=200, volume=0.02)
    assert not detector.feed(tone(100, 0.5))  # a click
    assert not detector.feed(tone(100, 0.0))  # gap longer than 60 ms resets
    assert not detector.feed(tone(180, 0.5))
    assert detector.feed(tone(40, 0.5))  # 220 ms in a row
    detector.reset()
    assert not detector.feed(tone(300, 0.005))  # quiet background never counts


def test_only_allowlisted_urls_pass() -> None:
    allowed = ["https://api.openai.com/v1", "ws://asr.internal:8124/ws/"]
    assert check_url("https://api.openai.com/v1", "llm", allowed, ("https",)).url == "https://api.openai.com/v1"
    assert check_url("https://API.openai.com/v1/", "llm", allowed, ("https",)).url == "https://api.openai.com/v1/"
    assert check_url("ws://asr.internal:8124/ws/transcribe/vad", "asr", allowed, ("ws",)).target.named
    for url, schemes in [
        ("https://api.openai.com.evil.io/v1", ("https",)),
        ("https://api.openai.com/v10", ("https",)),
        ("http://api.openai.com/v1", ("http", "https")),
        ("https://user:pw@api.openai.com/v1", ("https",)),
        ("file:///etc/passwd", ("http", "https")),
        ("ws://asr.internal:8125/ws/", ("ws",)),
    ]:
        with pytest.raises(UrlNotAllowed):
            check_url(url, "x", allowed, schemes)


def test_rate_window_admits_the_limit_in_any_window() -> None:
    window = RateWindow(limit=3, window_s=60.0)
    assert [window.allow(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert window.allow(59.9) is False  # the first is still inside the window
    assert window.allow(60.0) is True  # ...and now it is not


def test_the_asr_stream_asks_only_for_the_flags_it_needs() -> None:
    """ssap and turn_model go on the ASR's query only when set: an external ASR may not know them."""
    plain = AsrClient(Endpoint("ws://asr:8000/ws/transcribe/vad"), 500, "en", (), {})
    flagged = AsrClient(Endpoint("ws://asr:8000/ws/transcribe/vad?x=1"), 500, "vi", ("ssap", "turn_model"), {})
    assert plain.endpoint.url == "ws://asr:8000/ws/transcribe/vad?silence_ms=500&language=en"
    assert (
        flagged.endpoint.url
        == "ws://asr:8000/ws/transcribe/vad?x=1&silence_ms=500&language=vi&ssap=true&turn_model=true"
    )
