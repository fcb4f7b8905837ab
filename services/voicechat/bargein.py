"""Barge-in: the user speaking over the agent. Speech is 20 ms frames above a volume gate; it must
last `min_ms` (with gaps up to 60 ms bridged) so a cough or a short backchannel does not cut in."""

import numpy as np

FRAME = 320  # 20 ms at 16 kHz
MAX_GAP_FRAMES = 3


class BargeInDetector:
    def __init__(self, min_ms: int, volume: float) -> None:
        self.needed = max(1, min_ms // 20)
        self.volume = volume
        self._run = 0
        self._gap = 0
        self._rest = np.zeros(0, dtype=np.float32)

    def reset(self) -> None:
        self._run = self._gap = 0
        self._rest = np.zeros(0, dtype=np.float32)

    def feed(self, pcm: bytes) -> bool:
        """True once enough continuous speech has been heard."""
        samples = np.concatenate([self._rest, np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768])
        usable = samples.size - samples.size % FRAME
        self._rest = samples[usable:]
        for frame in samples[:usable].reshape(-1, FRAME):
            if float(np.sqrt(np.mean(frame**2))) >= self.volume:
                self._run += 1
                self._gap = 0
            elif self._run:
                self._gap += 1
                if self._gap > MAX_GAP_FRAMES:
                    self._run = self._gap = 0
            if self._run >= self.needed:
                return True
        return False
