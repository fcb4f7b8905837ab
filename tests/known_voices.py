"""Synthetic voices whose gender is known, for SSAP tests and bench/ssap_gender.py: Piper `joe`
(male), Kokoro `jf_*` (female) and `jm_*` (male), and espeak-ng's `+m*` / `+f*` variants in the
seven TTS languages. Synthesised by the TTS service's own engines, returned as WAV files."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from services.common.audio import to_pcm16, wav_bytes
from services.tts.engines.base import Voice
from services.tts.engines.espeak_engine import EspeakLibraryEngine, EspeakProgramEngine, load_espeak
from services.tts.engines.kokoro_engine import KokoroEngine
from services.tts.engines.piper_engine import JOE, PiperEngine
from tests.text import SENTENCES

# French is `fr`: espeak-ng ignores a variant given as `fr-fr+f1` (that voice stays male, ~98 Hz).
ESPEAK_VOICES = {"vi": "vi", "en": "en-us", "fr": "fr", "ja": "ja", "ko": "ko", "zh": "cmn", "ru": "ru"}
ESPEAK_VARIANTS = {**{f"m{i}": "male" for i in range(1, 9)}, **{f"f{i}": "female" for i in range(1, 6)}}
KOKORO_SENTENCES = ("今日はとても良い天気です。公園を散歩しましょう。", "駅までの道を教えていただけますか。")
PIPER_SENTENCES = (SENTENCES["en"], "Please call Stella and ask her to bring these things with her from the store.")


@dataclass(frozen=True)
class KnownVoice:
    family: str  # piper, kokoro, espeak
    voice: str
    gender: str
    wav: bytes


def _wav(audio, rate: int) -> bytes:
    return wav_bytes(to_pcm16(audio), rate)


@functools.cache
def _espeak() -> "EspeakLibraryEngine | EspeakProgramEngine":
    return load_espeak("espeak-ng")


def espeak_wav(voice: str, text: str) -> bytes:
    """espeak-ng's WAV for `text` in `voice` (e.g. `fr+f2`; the TTS service only offers base voices), from
    the TTS service's own espeak-ng engine (the program when installed, else the bundled library)."""
    engine = _espeak()
    return _wav(engine.synthesize(text, Voice("espeak", voice, "")), engine.sample_rate)


def espeak_voices(variants: dict[str, str] = ESPEAK_VARIANTS) -> Iterator[KnownVoice]:
    for language, base in ESPEAK_VOICES.items():
        for variant, gender in variants.items():
            name = f"{base}+{variant}"
            yield KnownVoice("espeak", name, gender, espeak_wav(name, SENTENCES[language]))


def kokoro_voices() -> Iterator[KnownVoice]:
    engine = KokoroEngine()
    for name in sorted(engine.voices):
        gender = {"f": "female", "m": "male"}[name[1]]
        for sentence in KOKORO_SENTENCES:
            audio = engine.synthesize(sentence, Voice("kokoro", name, "ja"))
            yield KnownVoice("kokoro", name, gender, _wav(audio, engine.sample_rate))


def piper_voices() -> Iterator[KnownVoice]:
    engine = PiperEngine(threads=1)
    for sentence in PIPER_SENTENCES:
        audio = engine.synthesize(sentence, Voice("piper", JOE, "en"))
        yield KnownVoice("piper", JOE, "male", _wav(audio, engine.sample_rate))


def known_voices() -> list[KnownVoice]:
    return [*piper_voices(), *kokoro_voices(), *espeak_voices()]
