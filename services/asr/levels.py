"""Speech level normalisation before decoding."""

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
