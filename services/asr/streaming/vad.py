"""Stateful Silero VAD over a stream: 32 ms windows, state carried between chunks.

Uses the Silero v6 ONNX model bundled with faster-whisper (one shared, thread-safe session).
"""

import numpy as np
from faster_whisper.vad import get_vad_model

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64  # samples of the previous window the model sees


class StreamingVad:
    def __init__(self) -> None:
        self._session = get_vad_model().session
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)

    def process(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed float32 samples; returns (windows [n, 512], speech probabilities [n]) for every
        complete window. Leftover samples wait for the next call."""
        audio = np.concatenate([self._pending, samples])
        count = audio.size // WINDOW
        self._pending = audio[count * WINDOW :]
        if count == 0:
            return np.zeros((0, WINDOW), np.float32), np.zeros(0, np.float32)
        windows = audio[: count * WINDOW].reshape(count, WINDOW)
        contexts = np.vstack([self._context, windows[:-1, -CONTEXT:]])
        batch = np.concatenate([contexts, windows], axis=1)
        probs, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        return windows, np.asarray(probs, np.float32).reshape(-1)
