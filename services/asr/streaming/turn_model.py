"""Pipecat's smart-turn v3.2 (BSD-2-Clause): P(the speaker's turn is complete) from the last 8 s of a turn.

The ONNX file ships in the PyPI wheel `pipecat-ai` (`make install` extracts it, `tools/turn_model.py`);
nothing here downloads it. The input is exactly Pipecat's (`LocalSmartTurnAnalyzerV3._predict_endpoint`):
the last 8 s of 16 kHz audio, zero-padded at the *start* when shorter, normalised to zero mean and unit
variance, then Whisper's 80-bin log-mel (`WhisperFeatureExtractor(chunk_length=8)`): 80 x 800 frames, as
`input_features` [1, 80, 800]; the output is a sigmoid probability [1, 1]; Pipecat's threshold is 0.5.
The log-mel is faster-whisper's numpy `FeatureExtractor` (no torch, no transformers): on the shared speech
its features differ from transformers' WhisperFeatureExtractor by at most 6.5e-5 (float32 against float64
arithmetic; tests/test_turn_model.py).
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
from faster_whisper.feature_extractor import FeatureExtractor

RATE = 16_000
SECONDS = 8
SAMPLES = RATE * SECONDS
NORM_EPS = 1e-7  # transformers' zero-mean unit-variance epsilon
REPO = Path(__file__).resolve().parents[3]


def resolve(path: str) -> Path:
    """A relative STREAM_TURN_MODEL is taken from the repository root (where `make install` puts it)."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else REPO / candidate


def model_input(audio: np.ndarray) -> np.ndarray:
    """The last 8 s (zero-padded in front), normalised: what the model was trained on."""
    audio = np.asarray(audio, np.float32)[-SAMPLES:]
    audio = np.pad(audio, (SAMPLES - audio.size, 0))
    return (audio - audio.mean()) / np.sqrt(audio.var() + NORM_EPS)


class TurnModel:
    """One ONNX session (thread-safe); `complete_probability` runs on a budget thread."""

    def __init__(self, path: str, threads: int = 1) -> None:
        file = resolve(path)
        if not file.is_file():
            raise FileNotFoundError(f"no turn model at {file} (run `make install`, or set STREAM_TURN_MODEL)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80, chunk_length=SECONDS)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """[80, 800] log-mel of the model's input."""
        return self._features(model_input(audio), padding=0).astype(np.float32)

    def complete_probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for a turn's audio (16 kHz float32, its trailing silence included)."""
        (probability,) = self._session.run(None, {"input_features": self.features(audio)[np.newaxis]})
        return float(np.asarray(probability).reshape(-1)[0])
