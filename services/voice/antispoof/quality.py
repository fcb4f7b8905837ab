"""Input quality checks for anti-spoofing: long enough, not clipped, enough speech."""

from dataclasses import dataclass

import numpy as np

from services.voice.speech import RATE, speech_only

FULL_SCALE = 0.999


@dataclass(frozen=True)
class QualityLimits:
    min_duration_s: float
    min_speech_s: float
    max_clipped: float


def quality_issues(audio: np.ndarray, limits: QualityLimits) -> list[str]:
    """Why the recording is unreliable for a verdict; empty when it passes."""
    issues = []
    duration = audio.size / RATE
    if duration < limits.min_duration_s:
        issues.append(f"too short: {duration:.2f} s < {limits.min_duration_s} s")
    clipped = float(np.mean(np.abs(audio) >= FULL_SCALE))
    if clipped > limits.max_clipped:
        issues.append(f"clipped: {clipped:.1%} of samples at full scale (limit {limits.max_clipped:.1%})")
    speech = speech_only(audio).size / RATE
    if speech < limits.min_speech_s:
        issues.append(f"too little speech: {speech:.2f} s < {limits.min_speech_s} s")
    return issues
