"""The voice agent's session against scripted ASR events (no fleet): a final that replaces the one before it
(the user went on after a turn the turn model ended) replaces the reply and the history; barge-in waits
for the ASR to hear speech, so the user's breath after their own command does not cut the reply."""

import asyncio

import numpy as np

from services.common.protocols.transcribe import SpeechStartedEvent, TranscriptEvent
from services.common.protocols.voice_chat import Audio, Config
from services.voicechat.session import Session
from services.voicechat.settings import VoicechatSettings

FRAME = bytes(960)  # 20 ms of 24 kHz int16


class Socket:
    """What the session sends to its client."""

    def __init__(self) -> None:
        self.sent: list[dict | bytes] = []

    async def send_json(self, event: dict) -> None:
        self.sent.append(event)

    async def send_bytes(self, frame: bytes) -> None:
        self.sent.append(frame)

    def types(self) -> list[str]:
        return [item["type"] for item in self.sent if isinstance(item, dict)]


class EchoLlm:
    def __init__(self) -> None:
        self.asked: list[list[dict[str, str]]] = []

    async def stream(self, messages: list[dict[str, str]]):
        self.asked.append(messages)
        yield f"You said: {messages[-1]['content']}. Thanks."


class SlowTts:
    """Speaks 50 frames a sentence, one every 10 ms: long enough to be interrupted."""

    last_speaker_id = None

    async def speak(self, text: str, *_args):
        for _ in range(50):
            await asyncio.sleep(0.01)
            yield FRAME

    async def reset(self) -> None:
        pass


def session() -> tuple[Session, Socket, EchoLlm]:
    socket, llm = Socket(), EchoLlm()
    settings = VoicechatSettings(_env_file=None)
    chat = Session(socket, settings, Config(language="en"), llm, SlowTts(), asr=None)
    return chat, socket, llm


def speaking(chat: Session) -> asyncio.Event:
    """Set when the agent's voice starts (its first frame): before the turn starts, the turn takes the hook."""
    started, mark = asyncio.Event(), chat._agent_speaking

    def hook() -> None:
        mark()
        started.set()

    chat._agent_speaking = hook
    return started


def loud(ms: int) -> Audio:
    samples = (0.1 * np.sin(np.arange(16 * ms) / 3)).astype("<f4")
    return Audio((samples * 32767).astype("<i2").tobytes(), raw="{}")


class NoAsr:
    async def send(self, _raw: str) -> None:
        pass


async def test_a_final_that_replaces_the_previous_one_replaces_its_reply_and_its_history() -> None:
    chat, socket, llm = session()
    outbox = asyncio.create_task(chat.outbox.run())
    voice = speaking(chat)
    await chat._on_transcript(TranscriptEvent(text="Turn the lights", is_final=True))
    await voice.wait()
    whole = "Turn the lights off in the kitchen"
    await chat._on_transcript(TranscriptEvent(text=whole, is_final=True, replaces_previous=True))
    await chat.turn_task
    chat.outbox.urgent(None)  # the sender flushes what is queued, then stops
    await outbox
    assert chat.history == [
        {"role": "user", "content": whole},
        {"role": "assistant", "content": f"You said: {whole}. Thanks."},
    ]
    assert llm.asked[-1][-1] == {"role": "user", "content": whole} and len(llm.asked[-1]) == 2  # system + whole
    assert socket.types().count("interrupted") == 1  # the fragment's reply was cut


async def test_a_final_that_does_not_replace_keeps_the_turn_before_in_the_history() -> None:
    chat, _, llm = session()
    outbox = asyncio.create_task(chat.outbox.run())
    await chat._on_transcript(TranscriptEvent(text="Turn the lights on", is_final=True))
    await chat.turn_task
    await chat._on_transcript(TranscriptEvent(text="Thanks", is_final=True))
    await chat.turn_task
    chat.outbox.urgent(None)  # the sender flushes what is queued, then stops
    await outbox
    assert [m["content"] for m in llm.asked[-1][1:]] == [
        "Turn the lights on",
        "You said: Turn the lights on. Thanks.",
        "Thanks",
    ]


async def test_barge_in_waits_for_the_asr_to_hear_speech() -> None:
    chat, socket, _ = session()
    chat.asr = NoAsr()
    outbox = asyncio.create_task(chat.outbox.run())
    await chat._asr_event(SpeechStartedEvent())  # the user's command: this ASR reports speech starts
    voice = speaking(chat)
    await chat._on_transcript(TranscriptEvent(text="Next", is_final=True))
    await voice.wait()
    for _ in range(4):
        await chat._on_audio(loud(100))  # 400 ms of loud audio, no speech by the ASR's VAD (a breath)
    assert chat.speaking and "interrupted" not in socket.types()
    await chat._asr_event(SpeechStartedEvent())
    await chat._on_audio(loud(100))
    chat.outbox.urgent(None)  # the sender flushes what is queued, then stops
    await outbox
    assert not chat.speaking and "interrupted" in socket.types()
