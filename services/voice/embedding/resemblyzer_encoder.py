"""Resemblyzer's GE2E speaker encoder (256-d); its weights ship inside the PyPI wheel."""

from importlib.metadata import version

import numpy as np

from services.voice.embedding.base import unit


class ResemblyzerEncoder:
    dim = 256

    def __init__(self, device: str) -> None:
        from resemblyzer import VoiceEncoder

        self.model_id = f"resemblyzer-{version('resemblyzer')}"
        self._encoder = VoiceEncoder(device, verbose=False)
        self.embed(np.random.default_rng(0).normal(0, 0.05, 32_000).astype(np.float32))  # warm-up

    def embed(self, speech: np.ndarray) -> np.ndarray:
        from resemblyzer.audio import normalize_volume

        wav = normalize_volume(speech, -30, increase_only=True)
        return unit(self._encoder.embed_utterance(wav))
