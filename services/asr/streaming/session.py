"""One WS /ws/transcribe/vad connection: a receiver that runs VAD and turn detection, decode jobs
on the shared scheduler, and a sender draining an outbox so events leave in order."""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import Counter
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from services.asr.short_context import TurnContext, looks_like_a_loop
from services.asr.streaming.scheduler import STREAM_SKIPPED, DecodeJob, DecodeScheduler, Priority
from services.asr.streaming.ssap import TurnProfiler, VoiceProfiles
from services.asr.streaming.turns import (
    PartialDue,
    PauseStarted,
    TurnCheck,
    TurnDetector,
    TurnEnded,
    TurnSettings,
    TurnStarted,
)
from services.asr.streaming.vad import StreamingVad
from services.asr.transcriber import UtteranceText
from services.common.errors import ApiError, InvalidInput
from services.common.protocols.base import ASR_SAMPLE_RATE, ErrorEvent, ProtocolError, WireEvent
from services.common.protocols.transcribe import (
    AudioChunk,
    ConfigMessage,
    EndMessage,
    SpeechStartedEvent,
    TranscriptEvent,
    parse_client_message,
)

logger = logging.getLogger(__name__)
RATE = ASR_SAMPLE_RATE
RECENT_LANGUAGE_PROBABILITY = 0.9  # a detection this sure becomes the stream's language, kept by
# later turns unless one is clearly in another language (a Vietnamese speaker's English sentence)
PARTIAL_LANGUAGE_PROBABILITY = 0.5  # a partial whose language detection is less sure is not shown
CONTEXT_GAP_S = 3.0  # a turn that starts this soon after the previous one is decoded with it as context:
CONTEXT_CHARS = 200  # the end of its text as Whisper's prompt,
SHORT_TURN_S = 1.5  # and, for a turn shorter than this,
LEAD_AUDIO_S = 2.0  # this much of the end of its audio in front of the turn
TURN_MODEL_ENDS = Counter("asr_stream_turn_model_ends_total", "Turns ended at the short pause by the turn model")
MAX_PENDING_FINALS = 4  # a stream with this many finals not yet sent reads no more audio until one is out


@dataclass
class StreamOptions:
    turns: TurnSettings
    language: str | None
    validate_language: Callable[[str | None], str | None]  # a code the model knows, or InvalidInput
    ssap: bool
    idle_timeout_s: float
    ssap_early_s: float = 2.0  # profile a turn as soon as it has this much voiced audio...
    ssap_min_s: float = 1.0  # ...or at its end, if it has at least this much
    ssap_drain_s: float = 5.0  # at end of stream, wait this long for profiles on their way
    on_behalf: Mapping[str, str] = field(default_factory=dict)  # the caller's key, for the voice service
    # The turn-completion model (turns.model_pause_ms > 0): P(turn complete) of the stream's last 8 s, and the
    # probability at which a turn ends at the pause instead of at silence_ms.
    turn_model: Callable[[np.ndarray], Awaitable[float]] | None = None
    turn_threshold: float = 0.5
    speech_events: bool = False  # send `speech_started` when a turn starts (query `speech_events`)


@dataclass
class _EarlyFinal:
    turn: int
    samples: int
    job: DecodeJob


class StreamSession:
    def __init__(
        self, ws: WebSocket, scheduler: DecodeScheduler, profiles: VoiceProfiles, options: StreamOptions
    ) -> None:
        self.ws = ws
        self.scheduler = scheduler
        self.options = options
        self.language = options.language  # given: every turn is decoded in it
        self._recent_language: str | None = None  # detected: what the next turn most likely speaks
        self.detector = TurnDetector(options.turns)
        self.vad = StreamingVad()
        self.outbox: asyncio.Queue[WireEvent | None] = asyncio.Queue()
        self._preview: DecodeJob | None = None  # the latest partial or early final of this turn
        self._early: _EarlyFinal | None = None
        self._finals: asyncio.Task[None] | None = None  # chain: finals are sent in turn order
        self._pending_finals: deque[asyncio.Task[None]] = deque()  # the chain's links not yet done
        self._tasks: set[asyncio.Task[None]] = set()
        self._answer: asyncio.Task[None] | None = None  # the turn model, asked about the current pause
        self._last_partial = ""
        self._turn_texts: dict[int, tuple[str, bool]] = {}  # recent turns' latest text, and whether it is final
        self._sent_finals: dict[int, str] = {}  # the text of each recent turn's final as sent
        self._turn_tails: dict[int, np.ndarray] = {}  # the end of recent turns' audio
        self._sender: asyncio.Task[None] | None = None
        self.ssap = TurnProfiler(profiles, self.send, options.ssap_early_s, options.ssap_min_s, options.on_behalf)

    async def run(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name="stream-sender")
        try:
            await self._receive_loop()
        finally:
            pending = [*self._tasks, *([self._finals] if self._finals else [])]
            for task in pending:
                task.cancel()
            self.ssap.cancel()
            for job in (self._preview, self._early.job if self._early else None):
                if job is not None:
                    job.cancel()
            await self._stop_sender()

    # --- receiving -------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.options.idle_timeout_s):
                    message = await self.ws.receive()
            except TimeoutError:
                await self._close(1001, "idle timeout")
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is None:
                await self.send(ErrorEvent(message="binary frames are not accepted: send JSON text messages"))
                continue
            try:
                parsed = parse_client_message(message["text"])
            except ProtocolError as exc:
                await self.send(ErrorEvent(message=str(exc)))
                continue
            if isinstance(parsed, EndMessage):
                if (ended := self.detector.finish()) is not None:
                    self._on_turn_ended(ended)
                if self._finals is not None:
                    await self._finals
                await self.ssap.drain(self.options.ssap_drain_s)
                await self._close(1000, "end of stream")
                return
            if isinstance(parsed, ConfigMessage):
                await self._configure(parsed)
                continue
            await self._on_audio(parsed)

    async def _configure(self, update: ConfigMessage) -> None:
        """A mid-stream config; an unknown language is refused as it is in the query, and the stream
        keeps the language it had."""
        if update.language:
            try:
                self.language = self.options.validate_language(update.language)
            except InvalidInput as exc:
                await self.send(ErrorEvent(message=exc.message))
                return
        if update.ssap is not None:
            self.options.ssap = update.ssap

    async def _on_audio(self, chunk: AudioChunk) -> None:
        limit_s = self.options.turns.silence_ms / 1000
        if chunk.seconds >= limit_s:
            await self.send(
                ErrorEvent(
                    message=f"audio chunk of {chunk.seconds * 1000:.0f} ms is too long: chunks must be shorter than "
                    f"silence_ms ({self.options.turns.silence_ms} ms); 100 ms chunks are recommended"
                )
            )
            return
        await self._backpressure()
        samples = np.frombuffer(chunk.pcm, dtype="<i2").astype(np.float32) / 32768.0
        windows, probs = await self.scheduler.vad(self.vad.process, samples)
        if self._answer is not None and self.detector.decisive(probs):
            await asyncio.wait([self._answer])  # the answer about this pause comes first, at any sending speed
        check: TurnCheck | None = None
        for event in self.detector.feed(windows, probs):
            if isinstance(event, TurnStarted):
                self._on_turn_started(event)
                if self.options.speech_events:
                    await self.send(SpeechStartedEvent())
            elif isinstance(event, PartialDue):
                self._on_partial_due(event)
            elif isinstance(event, PauseStarted):
                self._on_pause(event)
            elif isinstance(event, TurnCheck):
                check = event
            else:
                self._on_turn_ended(event)
        self.vad.reset_if_due(self.detector.listening)
        if check is not None:
            self._answer = asyncio.create_task(self._ask_turn_model(check), name="stream-turn-model")
            self._tasks.add(self._answer)
            self._answer.add_done_callback(self._answer_done)
        if self.options.ssap and self.detector.in_turn:
            self.ssap.during_turn(self.detector.turn, self.detector.voiced_s, self.detector.audio)

    # --- turn events -> decode jobs ----------------------------------------------------------

    def _busy(self) -> bool:
        return self._preview is not None and not self._preview.future.done()

    def _on_turn_started(self, event: TurnStarted) -> None:
        """A turn the model ended goes on: its previews are again the next turn's prompt, as by silence alone."""
        if event.turn in self._turn_texts:
            self._turn_texts[event.turn] = (self._turn_texts[event.turn][0], False)

    def _on_partial_due(self, event: PartialDue) -> None:
        if self._busy():
            STREAM_SKIPPED.labels("partial").inc()  # the running preview is newer than a queued one
            return
        self._preview = self.scheduler.submit(
            event.audio, self.language, Priority.PARTIAL, self._context(event.turn, event.audio)
        )
        self._track(self._deliver_partial(event.turn, self._preview))

    def _on_pause(self, event: PauseStarted) -> None:
        """Speech stopped: decode now, so that if the silence lasts the final is (almost) ready."""
        if self._preview is not None and not self._preview.started:
            self._preview.cancel()
        job = self.scheduler.submit(
            event.audio, self.language, Priority.EARLY_FINAL, self._context(event.turn, event.audio)
        )
        self._preview = job
        self._early = _EarlyFinal(event.turn, event.audio.size, job)
        self._track(self._deliver_partial(event.turn, job))

    def _answer_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._answer is task:
            self._answer = None

    async def _ask_turn_model(self, check: TurnCheck) -> None:
        """At the short pause: a turn the model calls complete ends as soon as it answers (its early final,
        decoding since the pause began, becomes the final); else it ends at silence_ms as without the model.
        Audio keeps being read meanwhile; only audio that would change the pause (speech, or silence_ms
        reached) waits for the answer, so the decision is the same at any sending speed."""
        try:
            probability = await self.options.turn_model(check.audio)
        except Exception:  # unavailable (shutting down) or failed: silence_ms ends the turn, as without it
            logger.exception("turn model failed; the turn ends on silence")
            return
        if probability >= self.options.turn_threshold and (ended := self.detector.end_if_still_paused(check)):
            TURN_MODEL_ENDS.inc()
            self._on_turn_ended(ended)

    def _on_turn_ended(self, event: TurnEnded) -> None:
        if self.options.ssap:
            self.ssap.turn_ended(event.turn, event.voiced_s, event.audio)
        early, self._early, self._preview = self._early, None, None
        if event.audio.size == 0:
            return
        self._turn_tails[event.turn] = event.audio[-int(LEAD_AUDIO_S * RATE) :]
        reuse = (
            early is not None
            and early.turn == event.turn
            and early.samples == event.audio.size
            and not early.job.future.cancelled()
        )
        if reuse:
            job = early.job
            self.scheduler.promote(job, Priority.FINAL)
        else:
            if early is not None:
                early.job.cancel()
            job = self.scheduler.submit(
                event.audio, self.language, Priority.FINAL, self._context(event.turn, event.audio)
            )
        previous = self._finals
        self._finals = asyncio.create_task(
            self._deliver_final(event.turn, job, previous, event.continues), name="stream-final"
        )
        self._pending_finals.append(self._finals)
        self._finals.add_done_callback(self._pending_finals.remove)

    async def _backpressure(self) -> None:
        """A client that sends audio faster than its turns are decoded is slowed down, not cut off:
        the socket is not read (TCP pushes back) until its oldest final is out. No audio is dropped."""
        while len(self._pending_finals) >= MAX_PENDING_FINALS:
            await asyncio.wait([self._pending_finals[0]])

    def _context(self, turn: int, audio: np.ndarray) -> TurnContext | None:
        """What came just before, when this turn follows the previous one closely: a pause inside a
        sentence then does not leave the words after it alone ("ask not" alone is heard "is not")."""
        gap = self.detector.gap_before_turn_s
        text, _ = self._turn_texts.get(turn - 1, ("", False))
        if gap is None or gap > CONTEXT_GAP_S or not text:
            return TurnContext(language=self._recent_language) if self._recent_language else None
        short = audio.size / RATE < SHORT_TURN_S
        tail = self._turn_tails.get(turn - 1) if short else None
        return TurnContext(text[-CONTEXT_CHARS:], tail, self._recent_language)

    def _remember(self, turn: int, text: str, final: bool) -> None:
        """Keep the turn's latest text (a final is never replaced by a preview) for the next turn's prompt."""
        if text and (final or not self._turn_texts.get(turn, ("", False))[1]):
            self._turn_texts[turn] = (text, final)
        for old in [t for t in self._turn_texts if t < turn - 1]:
            del self._turn_texts[old]
            self._turn_tails.pop(old, None)
            self._sent_finals.pop(old, None)

    # --- decode results -> events --------------------------------------------------------------

    async def _deliver_partial(self, turn: int, job: DecodeJob) -> None:
        try:
            result = await job.future
        except asyncio.CancelledError:
            return
        except Exception:
            return  # a preview failing is not worth an event; the final reports errors
        self._remember(turn, result.text, final=False)  # the next turn's prompt until this turn's final
        if turn != self.detector.turn or not self.detector.in_turn:
            return  # the turn has ended: its final supersedes any preview
        if self._showable(result) and result.text != self._last_partial:
            self._last_partial = result.text
            await self.send(TranscriptEvent(text=result.text, is_final=False, language=result.language))

    def _showable(self, result: UtteranceText) -> bool:
        """A partial worth showing: text, no repetition loop, and a language the model is fairly sure of."""
        if not result.text or looks_like_a_loop(result.text):
            return False
        unsure = result.language_probability is not None and result.language_probability < PARTIAL_LANGUAGE_PROBABILITY
        return not (self.language is None and self._recent_language is None and unsure)

    async def _deliver_final(
        self, turn: int, job: DecodeJob, previous: asyncio.Task[None] | None, continues: bool = False
    ) -> None:
        """The turn's final, after the finals before it. A turn that went on after the turn model ended it
        (`continues`) has its early final on the wire just before: this one replaces it
        (`replaces_previous`), or, when its text is the same, is not sent."""
        if previous is not None:
            await previous
        try:
            result = await job.future
        except asyncio.CancelledError:
            return
        except ApiError as exc:  # e.g. the model is being replaced, the service is shutting down
            await self.send(ErrorEvent(message=f"transcription failed: {exc.message}", code=exc.code))
            return
        except Exception as exc:
            await self.send(ErrorEvent(message=f"transcription failed: {type(exc).__name__}"))
            return
        self._note_language(result)
        early = self._sent_finals.get(turn) if continues else None  # the early final this one replaces
        going_on = self.detector.in_turn and self.detector.turn == turn  # carried on again since
        self._remember(turn, result.text, final=not going_on)
        self._last_partial = ""
        if not result.text or result.text == early:
            return
        self._sent_finals[turn] = result.text
        replaces = True if early is not None else None  # None: left out of the event
        await self.send(
            TranscriptEvent(text=result.text, is_final=True, language=result.language, replaces_previous=replaces)
        )

    def _note_language(self, result: UtteranceText) -> None:
        probability = result.language_probability
        if self.language is None and probability is not None and probability >= RECENT_LANGUAGE_PROBABILITY:
            self._recent_language = result.language

    # --- sending -------------------------------------------------------------------------------

    def _track(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, event: WireEvent) -> None:
        await self.outbox.put(event)

    async def _send_loop(self) -> None:
        while (event := await self.outbox.get()) is not None:
            if self.ws.application_state != WebSocketState.CONNECTED:
                return
            try:
                await self.ws.send_json(event.wire())
            except (WebSocketDisconnect, RuntimeError):
                return

    async def _stop_sender(self) -> None:
        """Let queued events go out, then end the sender."""
        if self._sender is not None and not self._sender.done():
            await self.outbox.put(None)
            with contextlib.suppress(Exception):
                await self._sender

    async def _close(self, code: int, reason: str) -> None:
        await self._stop_sender()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.close(code, reason)
