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

Why the gain: Silero is not level-invariant. In a quiet stream short words score under the threshold: at
−48 dBFS JFK's "ask not" (between two pauses) never reached 0.5, and the first words of the spoof/
commands started their turns late. So Silero hears the stream raised towards a usual speaking level, as
`level_up` raises a quiet turn before decoding: the louder half of the last 3 s of windows 10 dB over the
stream's noise floor (the median of windows Silero scores below 0.2) sets a gain that brings them to
−26 dBFS, by at most 40 dB, never below 1. Energy, not Silero's score, picks those windows: windows of
raised noise that Silero called speech would lower the level and raise the gain again. The gain changes
only where the state is cleared (as above, or at once when it is 3 dB off the one applied): a step in
level under a running state made Silero hear speech in the background noise after a command. The
windows returned are the raw ones: the turn detector's RMS gate and the decoded audio are unchanged.
Measured with bench/stream_vad_levels.py (docs/BENCHMARKS.md).
"""

from collections import deque

import numpy as np
from faster_whisper.vad import get_vad_model

from services.asr.levels import MAX_GAIN, TARGET_SPEECH_RMS, NoiseFloor

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64  # samples of the previous window the model sees
RESET_INTERVAL_WINDOWS = round(2.0 * 16_000 / WINDOW)  # Pipecat's _MODEL_RESET_INTERVAL_SECS
RESET_MAX_PROBABILITY = 0.1  # Pipecat's _MODEL_RESET_MAX_CONFIDENCE...
RESET_QUIET_WINDOWS = 5  # ...for this many windows in a row (_MODEL_RESET_LOW_CONFIDENCE_WINDOWS)
NOISE_MARGIN = 3.0  # windows louder than this times the noise floor...
MIN_SPEECH_RMS = 0.0005  # ...and than −66 dBFS measure the stream's speech level...
LEVEL_WINDOWS = round(3.0 * 16_000 / WINDOW)  # ...over the last 3 s of them...
LEVEL_MIN_WINDOWS = round(0.25 * 16_000 / WINDOW)  # ...once there is 0.25 s (a floor too: 0.25 s of noise)
GAIN_STEP = 10 ** (3 / 20)  # a new gain 3 dB from the one applied is applied at once (with a cleared state)


class SpeechLevel:
    """The gain that brings the stream's recent speech to a usual speaking level (see the module's docstring)."""

    def __init__(self) -> None:
        self._speech: deque[float] = deque(maxlen=LEVEL_WINDOWS)
        self._noise = NoiseFloor(LEVEL_WINDOWS, LEVEL_MIN_WINDOWS)

    def observe(self, windows: np.ndarray, probs: np.ndarray) -> None:
        levels = np.sqrt((windows * windows).mean(axis=1))
        for rms, prob in zip(levels, probs, strict=True):
            self._noise.observe(float(rms), float(prob))
        if (floor := self._noise.level) is not None:
            self._speech.extend(levels[levels >= max(MIN_SPEECH_RMS, NOISE_MARGIN * floor)].tolist())

    @property
    def gain(self) -> float:
        if len(self._speech) < LEVEL_MIN_WINDOWS:
            return 1.0
        levels = np.asarray(self._speech)
        louder_half = float(np.sqrt(np.mean(np.square(levels[levels >= np.median(levels)]))))
        return min(MAX_GAIN, max(1.0, TARGET_SPEECH_RMS / louder_half))


class StreamingVad:
    def __init__(self) -> None:
        self._session = get_vad_model().session
        self._pending = np.zeros(0, np.float32)
        self.level = SpeechLevel()
        self.gain = 1.0  # what Silero hears is the stream times this (changed only with a cleared state)
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
        heard = np.clip(windows * np.float32(self.gain), -1.0, 1.0)
        contexts = np.vstack([self._context, heard[:-1, -CONTEXT:]])
        batch = np.concatenate([contexts, heard], axis=1)
        probs, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = heard[-1, -CONTEXT:].copy()
        probs = np.asarray(probs, np.float32).reshape(-1)
        self._count(probs)
        self.level.observe(windows, probs)
        return windows, probs

    def _count(self, probs: np.ndarray) -> None:
        self._windows_since_reset += probs.size
        loud = np.flatnonzero(probs >= RESET_MAX_PROBABILITY)
        self._quiet_run = self._quiet_run + probs.size if loud.size == 0 else probs.size - 1 - int(loud[-1])

    def reset_if_due(self, in_turn: bool) -> bool:
        """After a chunk has been fed to the turn detector: clear the model's state when a reset is due, or the
        stream's speech level calls for another gain, the recent windows are clearly non-speech and no turn
        is running (see the module's docstring). Takes effect from the next chunk."""
        due = self._windows_since_reset >= RESET_INTERVAL_WINDOWS
        gain = self.level.gain
        regain = max(gain, self.gain) / min(gain, self.gain) >= GAIN_STEP
        if in_turn or self._quiet_run < RESET_QUIET_WINDOWS or not (due or regain):
            return False
        self.gain = gain
        self._clear_state()
        self.resets += 1
        return True
