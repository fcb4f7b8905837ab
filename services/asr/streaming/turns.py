"""End-of-turn detection from per-window VAD probabilities and an RMS gate (no model inside)."""

from dataclasses import dataclass, field

import numpy as np

from services.asr.streaming.vad import WINDOW

WINDOW_S = WINDOW / 16_000


@dataclass(frozen=True)
class TurnSettings:
    silence_ms: int = 300
    volume_threshold: float = 0.01
    partial_interval: float = 1.0
    vad_threshold: float = 0.5  # speech starts at this probability...
    vad_hysteresis: float = 0.15  # ...and continues while it stays above threshold - hysteresis
    tail_ms: int = 64  # audio kept after the last voiced window (trailing consonants)
    min_speech_ms: int = 96  # voiced audio needed before a turn starts (drops clicks)
    preroll_ms: int = 192  # audio kept before the detected start (word onsets)
    max_turn_s: float = 28.0  # a longer turn is closed (Whisper decodes 30 s at once)


@dataclass(frozen=True)
class PartialDue:
    turn: int
    audio: np.ndarray


@dataclass(frozen=True)
class PauseStarted:
    """Speech just stopped: the turn may be about to end (a chance to decode early)."""

    turn: int
    audio: np.ndarray


@dataclass(frozen=True)
class TurnEnded:
    turn: int
    audio: np.ndarray  # the utterance up to where the silence began
    voiced_s: float = 0.0  # how much of it the VAD found voiced


@dataclass
class TurnDetector:
    settings: TurnSettings
    turn: int = 0
    in_turn: bool = False
    _windows: list[np.ndarray] = field(default_factory=list)  # the current turn (or pre-roll)
    _speech_run: int = 0
    _silence_run: int = 0
    _voiced_windows: int = 0
    _next_partial: int = 0
    _speech_end: int = 0  # window count of the turn up to the last voiced window

    def _windows_for(self, ms: float) -> int:
        return max(1, round(ms / 1000 / WINDOW_S))

    def feed(self, windows: np.ndarray, probs: np.ndarray) -> list[PartialDue | PauseStarted | TurnEnded]:
        events: list[PartialDue | PauseStarted | TurnEnded] = []
        s = self.settings
        for window, prob in zip(windows, probs, strict=True):
            rms = float(np.sqrt(np.mean(window * window)))
            threshold = s.vad_threshold - (s.vad_hysteresis if self.in_turn else 0.0)
            voiced = prob >= threshold and rms >= s.volume_threshold
            if not self.in_turn:
                self._before_turn(window, voiced)
                continue
            self._windows.append(window)
            if voiced:
                self._silence_run = 0
                self._voiced_windows += 1
                self._speech_end = len(self._windows)
                if self._voiced_windows >= self._next_partial:
                    self._next_partial += self._windows_for(s.partial_interval * 1000)
                    events.append(PartialDue(self.turn, self.audio()))
            else:
                self._silence_run += 1
                if self._silence_run == self._windows_for(s.tail_ms):
                    events.append(PauseStarted(self.turn, self.audio()))
            too_long = len(self._windows) * WINDOW_S >= s.max_turn_s
            if self._silence_run >= self._windows_for(s.silence_ms) or too_long:
                events.append(self.end_turn())
        return events

    def _before_turn(self, window: np.ndarray, voiced: bool) -> None:
        s = self.settings
        self._windows.append(window)
        keep = self._windows_for(s.preroll_ms) + self._windows_for(s.min_speech_ms)
        del self._windows[:-keep]
        self._speech_run = self._speech_run + 1 if voiced else 0
        if self._speech_run >= self._windows_for(s.min_speech_ms):
            self.in_turn = True
            self._voiced_windows = self._speech_run
            self._next_partial = self._windows_for(s.partial_interval * 1000)
            self._silence_run = 0
            self._speech_end = len(self._windows)

    def audio(self) -> np.ndarray:
        """The current turn up to its last voiced window and a short tail after it."""
        if not self._speech_end:
            return np.zeros(0, np.float32)
        end = self._speech_end + self._windows_for(self.settings.tail_ms)
        return np.concatenate(self._windows[:end])

    @property
    def voiced_s(self) -> float:
        """Voiced audio in the current turn."""
        return self._voiced_windows * WINDOW_S

    def end_turn(self) -> TurnEnded:
        event = TurnEnded(self.turn, self.audio(), self.voiced_s)
        self.turn += 1
        self.in_turn = False
        self._windows = []
        self._speech_run = self._silence_run = self._voiced_windows = self._speech_end = 0
        return event
