"""How each engine is built from the settings (run on the loader thread)."""

from collections.abc import Callable

from services.common.models import NotConfigured
from services.tts.engines.base import TtsEngine
from services.tts.settings import TtsSettings


def loaders(settings: TtsSettings) -> dict[str, Callable[[], TtsEngine]]:
    def espeak() -> TtsEngine:
        from services.tts.engines.espeak_engine import load_espeak

        return load_espeak(settings.espeak_binary)

    def piper() -> TtsEngine:
        from services.tts.engines.piper_engine import PiperEngine

        return PiperEngine(settings.tts_threads)

    def kokoro() -> TtsEngine:
        from services.tts.engines.kokoro_engine import KokoroEngine

        return KokoroEngine()

    def f5tts() -> TtsEngine:
        if settings.f5tts_model is None:
            raise NotConfigured("F5TTS_MODEL is not set; voice-cloning speakers need an F5-TTS checkpoint")
        from services.tts.engines.f5tts_engine import F5TtsEngine

        return F5TtsEngine(settings.f5tts_model, settings.f5tts_vocab, settings.f5tts_device)

    return {"espeak": espeak, "piper": piper, "kokoro": kokoro, "f5tts": f5tts}
