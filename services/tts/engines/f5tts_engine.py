"""F5-TTS voice cloning: speaks in the voice of a speaker's reference recording (`reference_audio`
with its transcript `reference_text`). Needs the `f5tts` extra and a checkpoint (F5TTS_MODEL); the
weights are not on PyPI, so there is no default — without them these speakers get a clear error.
The recording comes from the catalog over HTTP (the service's cache); F5-TTS reads it from a file, so it
is written to a temporary one for each sentence."""

import tempfile
from pathlib import Path

import numpy as np

from services.tts.engines.base import EngineError, Voice


class F5TtsEngine:
    name = "f5tts"
    languages = frozenset({"vi", "en", "fr", "ja", "ko", "zh", "ru"})  # what the checkpoint was trained on decides
    sample_rate = 24_000

    def __init__(self, checkpoint: Path, vocab: Path | None, device: str) -> None:
        if not checkpoint.is_file():
            raise FileNotFoundError(f"F5TTS_MODEL {checkpoint} does not exist")
        try:
            from f5_tts.api import F5TTS
        except ImportError as exc:
            raise RuntimeError(f"F5TTS_MODEL is set but f5-tts is not installed: pip install f5-tts ({exc})") from exc
        kwargs = {"ckpt_file": str(checkpoint), "device": None if device == "auto" else device}
        if vocab is not None:
            kwargs["vocab_file"] = str(vocab)
        self._model = F5TTS(**kwargs)

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        if not voice.reference_wav or not voice.reference_text:
            raise EngineError("this F5-TTS speaker has no reference_audio and reference_text to clone")
        with tempfile.NamedTemporaryFile(suffix=".wav") as reference:
            reference.write(voice.reference_wav)
            reference.flush()
            audio, rate, _ = self._model.infer(
                ref_file=reference.name, ref_text=voice.reference_text, gen_text=sentence, remove_silence=False
            )
        if rate != self.sample_rate:
            raise EngineError(f"F5-TTS returned {rate} Hz audio; {self.sample_rate} Hz expected")
        return np.asarray(audio, dtype=np.float32)
