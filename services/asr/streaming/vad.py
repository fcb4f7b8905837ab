"""Stateful Silero VAD over a stream: 32 ms windows, state carried between chunks, and cleared again in
clear non-speech between turns.

Uses the Silero v6 ONNX model bundled with faster-whisper (one shared, thread-safe session).

Why the reset: the model's recurrent state after a long stretch of speech and the silence after it leaves
it under-reporting the speech that follows. Measured on the shared clips (each of the ten spoof/ commands
after each of 17 read passages and 1 s or 3 s of silence): the commands' windows at P >= 0.5 were 0.85 of
what a fresh state gives, and "set Bed Light brightness to 50 percent" lost "set" (its speech starts
0.3 s late) while a one-word "next" often never reached three windows in a row to start a turn. Pipecat
1.14's SileroVADAnalyzer resets the state for the same reason; its rule is used here unchanged: a reset
is due every 2 s of audio and happens once the last 5 windows scored below 0.1 and no turn is running
(never inside a turn: a reset makes the model briefly unsure). With it the same commands score 1.00 of a
fresh state.
"""

import numpy as np
from faster_whisper.vad import get_vad_model

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64  # samples of the previous window the model sees
RESET_INTERVAL_WINDOWS = round(2.0 * 16_000 / WINDOW)  # Pipecat's _MODEL_RESET_INTERVAL_SECS
RESET_MAX_PROBABILITY = 0.1  # Pipecat's _MODEL_RESET_MAX_CONFIDENCE...
RESET_QUIET_WINDOWS = 5  # ...for this many windows in a row (_MODEL_RESET_LOW_CONFIDENCE_WINDOWS)


class StreamingVad:
    def __init__(self) -> None:
        self._session = get_vad_model().session
        self._pending = np.zeros(0, np.float32)
        self.resets = 0
        self._clear_state()

    def _clear_state(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._windows_since_reset = 0
        self._quiet_run = 0  # windows in a row scored below RESET_MAX_PROBABILITY

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
        probs = np.asarray(probs, np.float32).reshape(-1)
        self._count(probs)
        return windows, probs

    def _count(self, probs: np.ndarray) -> None:
        self._windows_since_reset += probs.size
        loud = np.flatnonzero(probs >= RESET_MAX_PROBABILITY)
        self._quiet_run = self._quiet_run + probs.size if loud.size == 0 else probs.size - 1 - int(loud[-1])

    def reset_if_due(self, in_turn: bool) -> bool:
        """After a chunk has been fed to the turn detector: clear the model's state when a reset is due, the
        recent windows are clearly non-speech and no turn is running (see the module's docstring). Takes
        effect from the next chunk."""
        due = self._windows_since_reset >= RESET_INTERVAL_WINDOWS and self._quiet_run >= RESET_QUIET_WINDOWS
        if in_turn or not due:
            return False
        self._clear_state()
        self.resets += 1
        return True
