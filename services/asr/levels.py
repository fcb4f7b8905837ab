"""Speech levels: a stream's noise floor, and quiet speech raised before decoding."""

from collections import deque

import numpy as np

TARGET_SPEECH_RMS = 0.05  # −26 dBFS: quiet turns are raised to a usual speaking level before decoding...
MAX_GAIN = 100.0  # ...by at most 40 dB; louder ones are left as they are


def level_up(audio: np.ndarray) -> np.ndarray:
    """`audio` raised so that its louder half of 32 ms windows has a usual speaking level. Whisper's
    features are not level-invariant: the same words at −48 dBFS decode worse than at −26 dBFS."""
    windows = audio[: audio.size // 512 * 512].reshape(-1, 512)
    if not windows.size:
        return audio
    levels = np.sqrt((windows**2).mean(axis=1))
    speech = float(np.sqrt(np.mean(np.square(levels[levels >= np.median(levels)]))))
    gain = min(MAX_GAIN, TARGET_SPEECH_RMS / speech) if speech > 0 else 1.0
    return audio * np.float32(gain) if gain > 1.0 else audio


NOISE_PROBABILITY = 0.2  # windows Silero is this sure are not speech measure the noise floor


class NoiseFloor:
    """A stream's background level: the median RMS of its last `windows` clearly non-speech windows, once
    there are `min_windows` of them."""

    def __init__(self, windows: int, min_windows: int) -> None:
        self._levels: deque[float] = deque(maxlen=windows)
        self._min_windows = min_windows

    def observe(self, rms: float, prob: float) -> None:
        if prob < NOISE_PROBABILITY:
            self._levels.append(rms)

    @property
    def level(self) -> float | None:
        return float(np.median(self._levels)) if len(self._levels) >= self._min_windows else None
