"""One /ws/voice-chat connection: a receiver, a sender, the ASR reader and an idle watch run as
tasks; agent turns run one at a time and are cancelled by barge-in or a newer user turn."""

import asyncio
import contextlib
import logging
import time
from collections import deque

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from services.common.languages import LANGUAGE_NAMES
from services.common.protocols.base import ErrorEvent, ProtocolError, WireEvent
from services.common.protocols.transcribe import SpeechStartedEvent, SsapEvent, TranscriptEvent
from services.common.protocols.voice_chat import (
    Audio,
    Config,
    Disconnect,
    End,
    Interrupted,
    TextInput,
    parse_client_message,
)
from services.voicechat.asr_client import AsrClient, AsrError, AsrEvent
from services.voicechat.bargein import BargeInDetector
from services.voicechat.llm import Llm
from services.voicechat.outbox import Outbox
from services.voicechat.profile_prompt import render
from services.voicechat.settings import VoicechatSettings
from services.voicechat.tts_client import TtsClient
from services.voicechat.turn import Turn

logger = logging.getLogger(__name__)

FOLLOW_UP_PROMPT = "(The user has been silent for a while. Briefly check whether they are still there.)"
IDLE_TICK_S = 0.1


class RateWindow:
    """At most `limit` events in any `window_s` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class Session:
    def __init__(
        self,
        ws: WebSocket,
        settings: VoicechatSettings,
        config: Config,
        llm: Llm,
        tts: TtsClient,
        asr: AsrClient,
    ) -> None:
        self.ws = ws
        self.settings = settings
        self.config = config
        self.llm = llm
        self.tts = tts
        self.asr = asr
        self.outbox = Outbox(ws, settings.audio_lead_s)
        self.history: list[dict[str, str]] = []
        self.text_turns = RateWindow(settings.max_text_turns_per_minute, 60.0)
        self.turn_task: asyncio.Task | None = None
        self.speaking = False
        self.bargein = BargeInDetector(settings.barge_in_min_ms, settings.barge_in_volume)
        self.last_activity = time.monotonic()
        self.agent_done_at: float | None = None
        self.follow_ups = 0
        self.asr_error_sent = False
        self.voice_profile: dict[str, dict[str, float]] | None = None  # the latest ssap event's properties
        self._last_spoken_exchange: list[dict[str, str]] = []  # the history entries of the latest spoken turn
        # Barge-in needs the ASR's VAD to have heard speech since the reply's turn began, once the ASR has
        # shown it reports speech starts: loud audio alone may be the user's breath after their own words.
        self._asr_reports_speech = False
        self._speech_since_reply = False

    # -- running --------------------------------------------------------------------------------
    async def run(self) -> None:
        tasks = [asyncio.create_task(self.outbox.run()), asyncio.create_task(self._idle_watch())]
        receiver = asyncio.create_task(self._receive_loop())
        tasks.append(asyncio.create_task(self._asr_loop()))
        try:
            await asyncio.wait([receiver, tasks[1]], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._cancel_turn()
            receiver.cancel()
            self.outbox.urgent(None)  # the sender flushes what is queued, then stops
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(tasks[0]), 2)
            for task in tasks:
                task.cancel()
            await asyncio.gather(receiver, *tasks, return_exceptions=True)
            await self.tts.close()
            await self.asr.close()

    async def send(self, item: WireEvent) -> None:
        """An event outside the agent's reply (transcripts, errors, interrupted, disconnect)."""
        self.outbox.urgent(item)

    async def _receive_loop(self) -> None:
        while True:
            try:
                text = await self.ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            except KeyError:  # a binary frame
                await self.send(
                    ErrorEvent(source="client", message="send JSON text messages; binary frames are not accepted")
                )
                continue
            try:
                message = parse_client_message(text)
            except ProtocolError as exc:
                await self.send(ErrorEvent(source="client", message=str(exc)))
                continue
            if isinstance(message, End):
                return
            if isinstance(message, TextInput):
                self._user_active()
                if self.text_turns.allow(time.monotonic()):
                    await self._start_turn(message.text)
                else:
                    limit = self.settings.max_text_turns_per_minute
                    await self.send(
                        ErrorEvent(
                            source="client", code="rate_limited", message=f"more than {limit} text turns a minute"
                        )
                    )
            elif isinstance(message, Audio):
                await self._on_audio(message)

    async def _on_audio(self, audio: Audio) -> None:
        heard = self._speech_since_reply or not self._asr_reports_speech
        if self.speaking and self.bargein.feed(audio.pcm) and heard:
            self._user_active()
            await self._cancel_turn(interrupted=True)
        try:
            await self.asr.send(audio.raw)
        except AsrError as exc:
            if not self.asr_error_sent:  # once per outage, not once per audio message
                self.asr_error_sent = True
                await self.send(ErrorEvent(source="asr", message=str(exc)))
        else:
            self.asr_error_sent = False

    async def _asr_loop(self) -> None:
        async for message in self.asr.events():
            await self._asr_event(message)

    async def _asr_event(self, message: AsrEvent) -> None:
        if isinstance(message, ErrorEvent):
            await self.send(ErrorEvent(source="asr", message=message.message))
        elif isinstance(message, SsapEvent):
            if self.config.ssap:
                self.voice_profile = message.properties
                await self.send(message)
        elif isinstance(message, TranscriptEvent):
            await self._on_transcript(message)
        elif isinstance(message, SpeechStartedEvent):
            self._asr_reports_speech = self._speech_since_reply = True

    async def _on_transcript(self, transcript: TranscriptEvent) -> None:
        await self.send(transcript)
        if transcript.text:
            self._user_active()
        if transcript.is_final and transcript.text.strip():
            await self._start_turn(transcript.text.strip(), spoken=True, replaces=bool(transcript.replaces_previous))

    async def _idle_watch(self) -> None:
        """Follow up after silence; end the session after the inactivity limit. Silence starts when
        the user last spoke or typed, or when the agent's voice stopped playing, whichever is later."""
        while True:
            await asyncio.sleep(IDLE_TICK_S)
            now = time.monotonic()
            if self.turn_task is not None and not self.turn_task.done():
                continue
            if self.outbox.playing(now):
                if self.agent_done_at is not None:
                    self.agent_done_at = now
                continue
            quiet_since = max(self.last_activity, self.agent_done_at or 0.0)
            if now - quiet_since >= self.settings.inactivity_timeout_s:
                await self.send(Disconnect(reason="timeout"))
                return
            if (
                self.agent_done_at is not None
                and self.follow_ups < self.settings.max_follow_ups
                and now - quiet_since >= self.settings.follow_up_after_s
            ):
                self.follow_ups += 1
                await self._start_turn(FOLLOW_UP_PROMPT, follow_up=True)

    def _user_active(self) -> None:
        self.last_activity = time.monotonic()
        self.follow_ups = 0

    # -- agent turns ----------------------------------------------------------------------------
    async def _start_turn(
        self, user_text: str, follow_up: bool = False, spoken: bool = False, replaces: bool = False
    ) -> None:
        """Answer `user_text`, stopping the reply in progress. `replaces`: the ASR's final replaces the one
        before it (the user went on after a turn the turn model had ended): the reply to that fragment and
        the fragment itself leave the history, and the whole turn is answered instead."""
        await self._cancel_turn(interrupted=self.speaking)
        self._speech_since_reply = False
        if replaces:
            self.history[:] = [m for m in self.history if not any(m is e for e in self._last_spoken_exchange)]
        self.turn_task = asyncio.create_task(self._turn(user_text, follow_up, spoken))

    async def _cancel_turn(self, interrupted: bool = False) -> None:
        task, self.turn_task = self.turn_task, None
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.tts.reset()  # frames of the cancelled request must not arrive later
        self.outbox.drop_agent_lane()
        if interrupted:
            await self.send(Interrupted())

    def _messages(self, user_text: str) -> list[dict[str, str]]:
        system = self.settings.system_prompt
        if self.settings.language_prompt:
            language = LANGUAGE_NAMES[self.config.language]
            system = f"{system} {self.settings.language_prompt.format(language=language)}"
        if self.config.user_system_prompt:
            system = f"{system}\n\n{self.config.user_system_prompt}"
        if self.voice_profile and self.settings.ssap_prompt_template:
            system = f"{system}\n\n{render(self.settings.ssap_prompt_template, self.voice_profile)}"
        recent = self.history[-self.settings.history_max_messages :]
        return [{"role": "system", "content": system}, *recent, {"role": "user", "content": user_text}]

    async def _turn(self, user_text: str, follow_up: bool, spoken: bool = False) -> None:
        started = time.perf_counter()
        self.agent_done_at = None
        self.bargein.reset()
        turn = Turn(self.config, self.llm, self.tts, self.outbox.agent, self._agent_speaking)
        messages = self._messages(user_text)
        try:
            await turn.run(messages, started)
        finally:
            # What the user heard stays in the history, also when interrupted.
            said = " ".join(turn.result.spoken) if turn.result.spoken else turn.result.text
            exchange = [] if follow_up else [{"role": "user", "content": user_text}]
            if said:
                exchange.append({"role": "assistant", "content": said})
            self.history += exchange
            if spoken:
                self._last_spoken_exchange = exchange
            del self.history[: -self.settings.history_max_messages]
            self.speaking = False
            self.agent_done_at = time.monotonic()

    def _agent_speaking(self) -> None:
        self.speaking = True
        self.bargein.reset()
