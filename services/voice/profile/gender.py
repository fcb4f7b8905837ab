"""Gender from voice2gender: 20 pitch and spectral features and an XGBoost model shipped in its wheel.

`bench/ssap_gender.py` compares it with a classifier on Resemblyzer embeddings (docs/BENCHMARKS.md):
it is right on every synthetic test voice but on only 12 of 18 real LibriSpeech/LJ/JFK clips."""

from importlib.metadata import version

import numpy as np

from services.common.audio import to_pcm16

RATE = 16_000


class Voice2Gender:
    labels = ("female", "male")

    def __init__(self) -> None:
        import voice2gender

        self._predict = voice2gender.predict
        self.model_id = f"voice2gender-{version('voice2gender')}"

    def classify(self, speech: np.ndarray) -> dict[str, float]:
        """Probabilities of `female` and `male` for 16 kHz voiced audio."""
        result = self._predict([to_pcm16(speech)], sample_rate=RATE)
        female = float(result["female_probability"])
        return {"female": female, "male": 1.0 - female}
