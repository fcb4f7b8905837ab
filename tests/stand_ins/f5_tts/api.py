"""A stand-in for F5-TTS's Python API, `f5_tts.api.F5TTS`, put on the PYTHONPATH of a tts process under
test: F5-TTS weights are not on PyPI, so the real model cannot run here. It "clones" by returning the
reference recording it is handed, so a test can tell exactly which recording reached the engine; the
service's F5-TTS engine, its catalog client and its cache run unchanged around it."""

import wave

import numpy as np


class F5TTS:
    def __init__(self, ckpt_file: str, device: str | None = None, vocab_file: str | None = None) -> None:
        with open(ckpt_file, "rb"):  # the checkpoint must be a readable file, as for the real model
            pass

    def infer(
        self, ref_file: str, ref_text: str, gen_text: str, remove_silence: bool = False
    ) -> tuple[np.ndarray, int, None]:
        if not ref_text or not gen_text:
            raise ValueError("F5-TTS needs the reference transcript and the text to say")
        with wave.open(ref_file) as recording:
            rate = recording.getframerate()
            samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
        return samples.astype(np.float32) / 32768, rate, None
