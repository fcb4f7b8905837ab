"""End-of-turn detection from per-window VAD probabilities and an RMS gate; a turn-completion model may
end a turn sooner (`TurnCheck`: the session asks it, `end_if_still_paused` ends the turn on its answer).

A turn the model ended is *held* until silence_ms shows the user stopped (the silence-only rule's end): if
speech comes back before then, the turn goes on as if it had never ended (same number, same audio from its
start, the pause included), and its end is a `TurnEnded` with `continues`: its final replaces the early
one, so the words are those the silence-only rule gives, the early final only came sooner. Audio that
Silero calls speech but that does not start a turn (a quiet syllable) keeps the held turn going too, and
extends it: then the held turn ends at silence_ms with `continues`, as the silence-only rule would end it.

Silero decides what is speech. The RMS gate only keeps a turn from *starting* on a window too faint to
be the speaker (a breath, a distant click): a window must be louder than `volume_threshold`, or, in a
stream quieter than that, `noise_margin` times the stream's own noise floor (the median level of its
recent non-speech windows). Once a turn runs, it continues while Silero says speech, however quiet:
a quiet talker is never cut off, and nothing Silero calls speech is dropped.
"""

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from services.asr.levels import NoiseFloor
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
    preroll_ms: int = 400  # audio kept before the detected start: word onsets Silero scores low, a quiet first
    # word ("ask" in "ask not", "cancel", "set"); 192 ms lost them (bench/stream_vad_levels.py)
    max_turn_s: float = 28.0  # a longer turn is closed (Whisper decodes 30 s at once)
    noise_margin: float = 3.0  # ~10 dB over the stream's noise floor starts a turn below volume_threshold
    min_volume: float = 0.0005  # −66 dBFS: nothing fainter starts a turn, whatever the floor
    min_partial_s: float = 0.5  # no partial from less audio than this (too little to read reliably)
    model_pause_ms: int = 0  # silence after which the turn model is asked whether the turn is complete (0: never)


# The turn model hears the stream's last 8 s (its input), the turns before this one included: after a
# pause ended a turn, "ask not" alone sounds finished, in the middle of JFK's sentence it does not.
MODEL_CONTEXT_WINDOWS = round(8.0 / WINDOW_S)
NOISE_WINDOWS = 156  # the noise floor: ~5 s of clearly non-speech windows...
NOISE_MIN_WINDOWS = 16  # ...counting once there are ~0.5 s


@dataclass(frozen=True)
class PartialDue:
    turn: int
    audio: np.ndarray


@dataclass(frozen=True)
class TurnStarted:
    """Speech started a turn, or carried on a held one."""

    turn: int


@dataclass(frozen=True)
class PauseStarted:
    """Speech just stopped: the turn may be about to end (a chance to decode early)."""

    turn: int
    audio: np.ndarray


@dataclass(frozen=True)
class TurnCheck:
    """The pause reached `model_pause_ms`: ask the turn model about `audio` (the stream's last 8 s)."""

    turn: int
    audio: np.ndarray
    speech_end: int  # the detector's speech end then: speech since makes the answer stale


@dataclass(frozen=True)
class TurnEnded:
    turn: int
    audio: np.ndarray  # the utterance up to where the silence began
    voiced_s: float = 0.0  # how much of it the VAD found voiced
    continues: bool = False  # the turn carried on after the model ended it: this end replaces that one
    by_model: bool = False  # ended by the turn model's answer (held until silence_ms)


TurnEvent = TurnStarted | PartialDue | PauseStarted | TurnCheck | TurnEnded


@dataclass
class HeldTurn:
    """A turn the model ended early, kept until silence_ms of silence after its speech."""

    turn: int
    windows: list[np.ndarray]
    speech_end: int  # as TurnDetector._speech_end
    ended_speech_end: int  # _speech_end when the model ended it: a later one means it was extended
    silence_run: int
    voiced_windows: int
    next_partial: int
    turn_started: int
    gap_before: float | None
    last_turn_ended: int | None


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
    noise: NoiseFloor = field(default_factory=lambda: NoiseFloor(NOISE_WINDOWS, NOISE_MIN_WINDOWS))
    windows_seen: int = 0  # every window fed so far: the stream's clock
    last_turn_ended: int | None = None  # windows_seen where the latest turn's speech ended
    gap_before_turn_s: float | None = None  # silence between the previous turn and the current (or last) one
    _turn_started: int = 0  # windows_seen where the current turn's audio begins
    _recent: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=MODEL_CONTEXT_WINDOWS))
    _held: HeldTurn | None = None
    resumed: bool = False  # the current turn is a held turn that speech continued

    def _windows_for(self, ms: float) -> int:
        return max(1, round(ms / 1000 / WINDOW_S))

    def feed(self, windows: np.ndarray, probs: np.ndarray) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        s = self.settings
        for window, prob in zip(windows, probs, strict=True):
            self.windows_seen += 1
            self._recent.append(window)
            rms = float(np.sqrt(np.mean(window * window)))
            self.noise.observe(rms, float(prob))
            if not self.in_turn:
                if self._held is not None:
                    ended = self._hold(window, prob)
                    if self._held is None:  # released here, where the silence-only rule ends the turn:
                        events += [ended] if ended else []
                        self._windows, self._speech_run = [], 0  # the next turn's pre-roll starts after it
                        continue
                if self._before_turn(window, prob >= s.vad_threshold and rms >= self.start_volume):
                    events.append(TurnStarted(self.turn))
                continue
            voiced = prob >= s.vad_threshold - s.vad_hysteresis
            self._windows.append(window)
            if voiced:
                self._silence_run = 0
                self._voiced_windows += 1
                self._speech_end = len(self._windows)
                if self._voiced_windows >= self._next_partial and self._partial_long_enough():
                    self._next_partial += self._windows_for(s.partial_interval * 1000)
                    events.append(PartialDue(self.turn, self.audio()))
            else:
                self._silence_run += 1
                if self._silence_run == self._windows_for(s.tail_ms):
                    events.append(PauseStarted(self.turn, self.audio()))
                if s.model_pause_ms and self._silence_run == self._windows_for(s.model_pause_ms):
                    events.append(TurnCheck(self.turn, np.concatenate(self._recent), self._speech_end))
            too_long = len(self._windows) * WINDOW_S >= s.max_turn_s
            if self._silence_run >= self._windows_for(s.silence_ms) or too_long:
                events.append(self.end_turn())
        return events

    @property
    def start_volume(self) -> float:
        """How loud a voiced window must be to start a turn (see the module's docstring)."""
        s = self.settings
        floor = self.noise.level
        relative = s.min_volume if floor is None else max(s.min_volume, s.noise_margin * floor)
        return min(s.volume_threshold, relative)

    def _partial_long_enough(self) -> bool:
        return len(self._windows) * WINDOW_S >= self.settings.min_partial_s

    def _before_turn(self, window: np.ndarray, voiced: bool) -> bool:
        """Pre-roll, until enough speech starts a turn (or carries on a held one): then True."""
        s = self.settings
        self._windows.append(window)
        keep = self._windows_for(s.preroll_ms) + self._windows_for(s.min_speech_ms)
        del self._windows[:-keep]
        self._speech_run = self._speech_run + 1 if voiced else 0
        if self._speech_run >= self._windows_for(s.min_speech_ms):
            if self._held is not None:
                self._resume()
                return True
            self.in_turn = True
            self.resumed = False
            self._turn_started = self.windows_seen - len(self._windows)
            if self.last_turn_ended is not None:
                self.gap_before_turn_s = max(0, self._turn_started - self.last_turn_ended) * WINDOW_S
            self._voiced_windows = self._speech_run
            # The first partial once there is enough to read (min_partial_s), then every partial_interval.
            self._next_partial = self._windows_for(min(s.partial_interval, s.min_partial_s) * 1000)
            self._silence_run = 0
            self._speech_end = len(self._windows)
            return True
        return False

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

    def decisive(self, probs: np.ndarray) -> bool:
        """Whether these windows would change the current pause: speech again, or silence reaching silence_ms
        (a turn model's answer about the pause must be in before they are fed)."""
        s = self.settings
        speech = bool(np.any(probs >= s.vad_threshold - s.vad_hysteresis))
        return self.in_turn and (speech or self._silence_run + probs.size >= self._windows_for(s.silence_ms))

    @property
    def listening(self) -> bool:
        """A turn is running, or held: the user may still be speaking."""
        return self.in_turn or self._held is not None

    def end_if_still_paused(self, check: TurnCheck) -> TurnEnded | None:
        """End the turn on the model's word, unless it has ended or speech came back since `check`; the turn
        is held until silence_ms (see the module's docstring)."""
        if not self.in_turn or self.turn != check.turn or self._speech_end != check.speech_end:
            return None
        held = HeldTurn(
            turn=self.turn,
            windows=self._windows,
            speech_end=self._speech_end,
            ended_speech_end=self._speech_end,
            silence_run=self._silence_run,
            voiced_windows=self._voiced_windows,
            next_partial=self._next_partial,
            turn_started=self._turn_started,
            gap_before=self.gap_before_turn_s,
            last_turn_ended=self.last_turn_ended,
        )
        ended = self.end_turn(by_model=True)
        self._held = held
        return ended

    def _hold(self, window: np.ndarray, prob: float) -> TurnEnded | None:
        """A window after the model ended the turn `_held`, counted as the silence-only rule counts it; at
        silence_ms the hold ends: silently, or, if speech extended the turn, with the extended turn's end."""
        held, s = self._held, self.settings
        held.windows.append(window)
        if prob >= s.vad_threshold - s.vad_hysteresis:
            held.silence_run = 0
            held.voiced_windows += 1
            held.speech_end = len(held.windows)
        else:
            held.silence_run += 1
        too_long = len(held.windows) * WINDOW_S >= s.max_turn_s
        if held.silence_run < self._windows_for(s.silence_ms) and not too_long:
            return None
        return self._release()

    def _release(self) -> TurnEnded | None:
        """The hold is over: the held turn's extended end, or None when nothing was added to it."""
        held, self._held = self._held, None
        if held is None or held.speech_end == held.ended_speech_end:
            return None
        end = held.speech_end + self._windows_for(self.settings.tail_ms)
        audio = np.concatenate(held.windows[:end])
        self.last_turn_ended = held.turn_started + held.speech_end
        return TurnEnded(held.turn, audio, held.voiced_windows * WINDOW_S, continues=True)

    def finish(self) -> TurnEnded | None:
        """The stream ends: the running turn's end, or a held turn's if speech extended it."""
        return self.end_turn() if self.in_turn else self._release()

    def _resume(self) -> None:
        """Speech is back before the held turn's silence_ms: it goes on (the windows since are in it)."""
        held, self._held = self._held, None
        self.in_turn = True
        self.resumed = True
        self.turn = held.turn
        self._windows = held.windows
        self._speech_end = len(self._windows)
        self._silence_run = 0
        self._voiced_windows = held.voiced_windows
        self._next_partial = held.next_partial
        self._turn_started = held.turn_started
        self.gap_before_turn_s = held.gap_before
        self.last_turn_ended = held.last_turn_ended

    def end_turn(self, by_model: bool = False) -> TurnEnded:
        event = TurnEnded(self.turn, self.audio(), self.voiced_s, continues=self.resumed, by_model=by_model)
        self._held = None
        self.last_turn_ended = self._turn_started + self._speech_end
        self.turn += 1
        self.in_turn = False
        self._windows = []
        self._speech_run = self._silence_run = self._voiced_windows = self._speech_end = 0
        return event
