"""espeak-ng without a system package: libespeak-ng from the espeakng-loader wheel speaks every built-in
voice in process; the Debian program, when installed, is still used first and sounds the same."""

import shutil

import numpy as np
import pytest

from services.catalog.builtin import BUILTIN_SPEAKERS
from services.tts.engines.base import EngineError, Voice
from services.tts.engines.espeak_engine import EspeakLibraryEngine, EspeakProgramEngine, load_espeak

pytestmark = pytest.mark.service  # the real espeak-ng engine and its voices, no server

ESPEAK_VOICES = [(s.voice, s.language) for s in BUILTIN_SPEAKERS if s.engine == "espeak"]
SENTENCES = {
    "vi": "Xin chào, hôm nay trời đẹp.",
    "en": "Hello, the weather is nice today.",
    "fr": "Bonjour, il fait beau aujourd'hui.",
    "ja": "こんにちは、今日はいい天気です。",
    "ko": "안녕하세요, 오늘 날씨가 좋네요.",
    "zh": "你好，今天天气很好。",
    "ru": "Здравствуйте, сегодня хорошая погода.",
}


@pytest.fixture(scope="module")
def library() -> EspeakLibraryEngine:
    engine = load_espeak("no-such-espeak-program")
    assert isinstance(engine, EspeakLibraryEngine)
    return engine


@pytest.mark.parametrize(("voice", "language"), ESPEAK_VOICES)
def test_the_library_speaks_every_builtin_voice(library: EspeakLibraryEngine, voice: str, language: str) -> None:
    audio = library.synthesize(SENTENCES[language], Voice("espeak", voice, language))
    seconds = audio.size / library.sample_rate
    assert library.sample_rate == 22_050
    assert 0.8 < seconds < 6, seconds
    assert audio.dtype == np.float32 and 0.05 < np.abs(audio).max() <= 1.0


def test_unknown_voice_and_variants(library: EspeakLibraryEngine) -> None:
    with pytest.raises(EngineError, match="no voice"):
        library.synthesize("Hello.", Voice("espeak", "xx-nonexistent", "en"))
    plain = library.synthesize("Hello there.", Voice("espeak", "en-us", "en"))
    female = library.synthesize("Hello there.", Voice("espeak", "en-us+f3", "en"))
    assert female.size > 0 and not np.array_equal(plain[: female.size], female[: plain.size])


def test_concurrent_calls_do_not_mix_audio(library: EspeakLibraryEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    short, long = "Yes.", "This sentence is a good deal longer than the other one, by design."
    alone = {text: library.synthesize(text, Voice("espeak", "en-us", "en")).size for text in (short, long)}
    with ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(lambda t: library.synthesize(t, Voice("espeak", "en-us", "en")).size, [short, long] * 4))
    expected = [alone[short], alone[long]] * 4  # espeak-ng's output length varies by a few samples per call
    assert all(abs(size - want) < 0.01 * want for size, want in zip(sizes, expected, strict=True)), (sizes, expected)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the Debian package espeak-ng is not installed")
def test_the_program_is_preferred_when_installed_and_agrees(library: EspeakLibraryEngine) -> None:
    program = load_espeak("espeak-ng")
    assert isinstance(program, EspeakProgramEngine)
    voice = Voice("espeak", "vi", "vi")
    a, b = program.synthesize(SENTENCES["vi"], voice), library.synthesize(SENTENCES["vi"], voice)
    assert abs(a.size - b.size) < 0.25 * b.size
