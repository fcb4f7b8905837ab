"""One agent turn: the LLM reply streamed as `agent_text`, each complete sentence (the first one's first
piece sooner) spoken by TTS while the LLM goes on, audio frames after their text, then `agent_end`.
Cancelling the task stops both at once; what was already spoken stays in the history."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.common.protocols.base import ErrorEvent, WireEvent
from services.common.protocols.voice_chat import AgentEnd, AgentText, Config, Latency, Thinking
from services.voicechat.llm import Llm, LlmError
from services.voicechat.reply import ReplyParser, Speech
from services.voicechat.tts_client import TtsClient, TtsError

Send = Callable[[WireEvent | bytes], Awaitable[None]]


@dataclass
class TurnResult:
    spoken: list[str] = field(default_factory=list)  # pieces (as written) whose audio started playing
    text: str = ""  # the whole reply as shown
    interrupted: bool = False


class Turn:
    def __init__(self, config: Config, llm: Llm, tts: TtsClient, send: Send, on_audio: Callable[[], None]) -> None:
        self.config = config
        self.llm = llm
        self.tts = tts
        self.send = send
        self.on_audio = on_audio  # called at the first frame: the agent is now speaking
        self.result = TurnResult()

    async def run(self, messages: list[dict[str, str]], started: float) -> TurnResult:
        await self.send(Thinking())
        parser = ReplyParser()
        sentences: asyncio.Queue[Speech | None] = asyncio.Queue()
        self.tts.last_speaker_id = None
        speaker = asyncio.create_task(self._speak(sentences, parser))
        try:
            await self._generate(messages, parser, sentences, started)
            await speaker
        finally:
            if not speaker.done():
                speaker.cancel()
                await asyncio.gather(speaker, return_exceptions=True)
        self.result.text = parser.text
        language = parser.language or self.config.language
        await self.send(AgentEnd(language=language, speaker_id=self.tts.last_speaker_id))
        return self.result

    async def _generate(
        self, messages: list[dict[str, str]], parser: ReplyParser, sentences: asyncio.Queue, started: float
    ) -> None:
        first = True
        try:
            async for token in self.llm.stream(messages):
                if first:
                    await self.send(Latency.of("llm", time.perf_counter() - started))
                    first = False
                shown, ready = parser.feed(token)
                if shown:
                    await self.send(AgentText(text=shown))
                for speech in ready:
                    sentences.put_nowait(speech)
        except LlmError as exc:
            await self.send(ErrorEvent(source="llm", message=str(exc)))
        finally:
            shown, ready = parser.finish()
            if shown:
                await self.send(AgentText(text=shown))
            for speech in ready:
                sentences.put_nowait(speech)
            sentences.put_nowait(None)

    async def _speak(self, sentences: asyncio.Queue, parser: ReplyParser) -> None:
        failed = False
        first_frame = True
        while (speech := await sentences.get()) is not None:
            if failed:
                continue  # the text goes on; the voice stopped with the error
            language = parser.language or self.config.language
            # A language prefix routes through the collection; otherwise speaker_id, then the collection.
            speaker_id = None if parser.language and self.config.collection_id else self.config.speaker_id
            sent_at = time.perf_counter()
            heard = False
            try:
                frames = self.tts.speak(speech.text, speaker_id, self.config.collection_id, language, speech.continues)
                async for frame in frames:
                    if first_frame:
                        await self.send(Latency.of("tts_first", time.perf_counter() - sent_at))
                        self.on_audio()
                        first_frame = False
                    if not heard:
                        self.result.spoken.append(speech.written)
                        heard = True
                    await self.send(frame)
            except TtsError as exc:
                failed = True
                await self.send(ErrorEvent(source="tts", message=str(exc)))
