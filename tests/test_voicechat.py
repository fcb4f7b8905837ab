"""The voice agent through Traefik: a full spoken turn and a text turn in order, language routing,
barge-in, follow-up and timeout, and every failure as an `error` event with its source. The LLM is a
real HTTP server in the test speaking the OpenAI streaming protocol with scripted replies."""

import asyncio
import base64
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import soxr
import websockets

from tests.audio_files import read_mono
from tests.conftest import DATA, DEAD_WS_URLS, FORGETFUL_ASR_URL, READY_URLS, SCRIPTED_LLM_URL
from tests.scripted_llm import ScriptedLlm, scripted_llm_server

pytestmark = pytest.mark.fleet

CHAT = "ws://127.0.0.1:8124/ws/voice-chat"
BRIDGE = "ws://127.0.0.1:8125/ws/voice-chat"
CHUNK = 1600  # 100 ms of 16 kHz audio
# Every service's /readyz, Traefik's ping, the local LLM, and each public port of the gateway.
FLEET_HEALTH_URLS = [*READY_URLS, "http://127.0.0.1:8124/ice-servers", "http://127.0.0.1:8005/api/speakers"]


@pytest.fixture(scope="module")
def llm(fleet: str) -> Iterator[ScriptedLlm]:
    with scripted_llm_server() as server:
        yield server


def pcm_of(relative: str) -> bytes:
    samples = read_mono((DATA / relative).read_bytes())
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def audio_event(pcm: bytes) -> str:
    return json.dumps({"audio_event": {"audio_base_64": base64.b64encode(pcm).decode()}})


async def send_audio(ws: websockets.ClientConnection, pcm: bytes, pace_s: float = 0.05) -> None:
    for start in range(0, len(pcm), CHUNK * 2):
        await ws.send(audio_event(pcm[start : start + CHUNK * 2]))
        await asyncio.sleep(pace_s)


async def start(url: str = CHAT, **config: object) -> websockets.ClientConnection:
    ws = await websockets.connect(url, max_size=2**22)
    await ws.send(json.dumps({"type": "config", "llm_base_url": SCRIPTED_LLM_URL, "language": "en", **config}))
    assert json.loads(await ws.recv()) == {"type": "ready"}
    return ws


async def until(ws: websockets.ClientConnection, kind: str, within_s: float = 30) -> list[dict | bytes]:
    """Everything received up to and including the first event of `kind`."""
    received: list[dict | bytes] = []
    async with asyncio.timeout(within_s):
        while True:
            message = await ws.recv()
            item = message if isinstance(message, bytes) else json.loads(message)
            received.append(item)
            if isinstance(item, dict) and item.get("type") == kind:
                return received


def events(received: list[dict | bytes]) -> list[str]:
    return ["audio" if isinstance(item, bytes) else item["type"] for item in received]


def agent_text(received: list[dict | bytes]) -> str:
    return "".join(i["text"] for i in received if isinstance(i, dict) and i["type"] == "agent_text")


async def test_text_turn_streams_text_then_audio_in_order(llm: ScriptedLlm) -> None:
    ws = await start()
    await ws.send(json.dumps({"type": "text_input", "text": "Hello there"}))
    received = await until(ws, "agent_end")
    order = events(received)
    assert order[0] == "thinking"
    assert order.index("agent_text") < order.index("audio") < order.index("agent_end")
    assert agent_text(received) == "You said: Hello there. Thanks."
    steps = {i["step"]: i["value"] for i in received if isinstance(i, dict) and i["type"] == "latency"}
    assert set(steps) == {"llm", "tts_first"} and all(v.endswith("ms") for v in steps.values())
    audio = b"".join(i for i in received if isinstance(i, bytes))
    assert len(audio) / 2 / 24000 > 1.0  # "You said: Hello there. Thanks." spoken at 24 kHz
    assert received[-1]["language"] == "en"
    await ws.send(json.dumps({"type": "end"}))
    await ws.wait_closed()
    assert llm.requests[-1][-1] == {"role": "user", "content": "Hello there"}


async def test_a_streamed_reply_is_heard_before_its_first_sentence_is_complete(llm: ScriptedLlm) -> None:
    """With an LLM that streams (4 characters per 100 ms), the first piece TTS would say ("You said:") is sent
    as soon as it is known: its audio comes while the first sentence is still arriving; the rest of that
    sentence follows it, and the history holds the reply as written."""
    user = "Hello there how are you doing on this fine day my friend"
    reply = f"You said: {user}. Thanks."
    llm.token_delay_s = 0.1
    try:
        ws = await start()
        await ws.send(json.dumps({"type": "text_input", "text": user}))
        received = []
        while not isinstance(item := await ws.recv(), bytes):
            received.append(json.loads(item))
        assert agent_text(received).startswith("You said:") and "friend" not in agent_text(received)
        received += [item, *await until(ws, "agent_end")]
        assert agent_text(received) == reply
        audio = b"".join(i for i in received if isinstance(i, bytes))
        assert len(audio) / 2 / 24000 > 3.0  # the whole reply was said, not only its first piece
        await ws.send(json.dumps({"type": "text_input", "text": "Hello"}))
        await until(ws, "agent_end")
        assert {"role": "assistant", "content": reply} in llm.requests[-1]  # as written: no added comma
        await ws.close()
    finally:
        llm.token_delay_s = 0.0


async def test_spoken_turn_through_the_asr_stream(llm: ScriptedLlm) -> None:
    ws = await start()
    await send_audio(ws, pcm_of("asr/sb_spk1_snt1.wav") + bytes(CHUNK * 2 * 10))  # speech + 1 s of silence
    received = await until(ws, "agent_end", within_s=60)
    order = events(received)
    finals = [i for i in received if isinstance(i, dict) and i["type"] == "transcript" and i["is_final"]]
    assert finals, order
    heard = finals[-1]["text"].lower()
    assert "child" in heard and "dog" in heard, heard
    assert order.index("transcript") < order.index("thinking") < order.index("agent_text") < order.index("audio")
    assert heard.strip(" .") in agent_text(received).lower()
    await ws.close()


async def test_a_one_word_command_after_a_long_turn_gets_a_final_and_a_reply(llm: ScriptedLlm) -> None:
    """ "next" after a read passage and its reply (the peer run's lost command: Silero, worn by the passage, never
    started its turn, and its 3 s-padded decode loops)."""
    ws = await start()
    second = bytes(CHUNK * 2 * 10)
    await send_audio(ws, pcm_of("speaker/libri_testother_1688_1688-142285-0002.flac") + second)
    first = await until(ws, "agent_end", within_s=60)
    await send_audio(ws, second * 2 + pcm_of("spoof/en_stp_human_next.wav") + second)
    received = await until(ws, "agent_end", within_s=60)
    await ws.close()
    finals = [i["text"] for i in received if isinstance(i, dict) and i["type"] == "transcript" and i["is_final"]]
    assert "silly" in agent_text(first).lower(), agent_text(first)
    assert [f.strip(" .").lower() for f in finals] == ["next"], finals
    assert agent_text(received).lower() == "you said: next. thanks.", agent_text(received)


async def test_language_prefix_picks_the_collections_speaker(llm: ScriptedLlm) -> None:
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8005") as catalog:
        ja = (await catalog.get("/api/speakers", params={"language": "ja"})).json()["speakers"]
        kumo = next(s for s in ja if s["voice"] == "jm_kumo")
        collection = (
            await catalog.post(
                "/api/collections", json={"name": "chat", "user_id": "chat", "langs": {"ja": kumo["id"]}}
            )
        ).json()["id"]
    ws = await start(collection_id=collection)
    await ws.send(json.dumps({"type": "text_input", "text": "Answer in Japanese please"}))
    received = await until(ws, "agent_end", within_s=60)
    assert agent_text(received) == "こんにちは。元気ですか。"  # the prefix is neither shown nor spoken
    assert received[-1]["language"] == "ja" and received[-1]["speaker_id"] == kumo["id"]
    assert any(isinstance(i, bytes) for i in received)
    await ws.close()


async def test_barge_in_stops_the_agent_and_keeps_what_was_said(llm: ScriptedLlm) -> None:
    ws = await start()
    await ws.send(json.dumps({"type": "text_input", "text": "Tell me a story"}))
    while not isinstance(await ws.recv(), bytes):  # until the agent is speaking
        pass
    speech = pcm_of("asr/sb_spk2_snt1.wav") + bytes(CHUNK * 2 * 10)  # then 1 s of silence ends the turn
    started = time.perf_counter()
    sender = asyncio.create_task(send_audio(ws, speech, pace_s=0.1))  # real time, like a microphone
    after = await until(ws, "interrupted", within_s=10)
    reaction = time.perf_counter() - started
    assert reaction < 2.0, reaction  # measured in bench/voicechat_latency.py; this only catches a hang
    assert "agent_end" not in events(after)  # `interrupted` ends the turn instead
    await sender
    # No audio of the interrupted reply after `interrupted`: the next thing is the new turn.
    rest = await until(ws, "agent_end", within_s=60)
    first_audio = events(rest).index("audio")
    assert "thinking" in events(rest)[:first_audio]
    story = [m for m in llm.requests[-1] if m["role"] == "assistant"]
    assert story and story[-1]["content"].startswith("This is sentence")  # its first piece at least
    assert "number 29" not in story[-1]["content"]  # only what was spoken is remembered
    await ws.close()


async def test_short_noise_does_not_interrupt(llm: ScriptedLlm) -> None:
    ws = await start()
    await ws.send(json.dumps({"type": "text_input", "text": "Hello again"}))
    received = await until(ws, "latency")
    click = (np.sin(np.arange(1600) / 3) * 8000).astype("<i2").tobytes()  # 100 ms, loud but short
    await ws.send(audio_event(click))
    received += await until(ws, "agent_end")
    assert "interrupted" not in events(received)
    await ws.close()


async def test_follow_up_then_timeout(llm: ScriptedLlm) -> None:
    ws = await start()  # the fleet runs with FOLLOW_UP_AFTER_S=1.5, INACTIVITY_TIMEOUT_S=4
    await ws.send(json.dumps({"type": "text_input", "text": "Hi"}))
    await until(ws, "agent_end")
    follow_up = await until(ws, "agent_end", within_s=10)
    assert agent_text(follow_up) == "Are you still there?"
    bye = await until(ws, "disconnect", within_s=10)
    assert bye[-1] == {"type": "disconnect", "reason": "timeout"}
    await asyncio.wait_for(ws.wait_closed(), 5)


async def test_failures_are_errors_with_their_source(llm: ScriptedLlm) -> None:
    ws = await start()
    await ws.send(json.dumps({"type": "text_input", "text": "please fail"}))
    received = await until(ws, "agent_end")
    assert {"llm"} == {i["source"] for i in received if isinstance(i, dict) and i["type"] == "error"}
    await ws.send("not json")
    assert (await until(ws, "error"))[-1]["source"] == "client"
    await ws.send(json.dumps({"audio_event": {"audio_base_64": "%%%"}}))
    assert (await until(ws, "error"))[-1]["source"] == "client"
    await ws.send(json.dumps({"type": "text_input", "text": "Still there"}))
    assert agent_text(await until(ws, "agent_end")) == "You said: Still there. Thanks."  # the session goes on
    await ws.close()

    ws = await start(tts_ws_url=DEAD_WS_URLS[1])
    await ws.send(json.dumps({"type": "text_input", "text": "Hello"}))
    received = await until(ws, "agent_end")
    assert [i["source"] for i in received if isinstance(i, dict) and i["type"] == "error"] == ["tts"]
    assert agent_text(received) == "You said: Hello. Thanks."  # text still arrives
    await ws.close()

    ws = await websockets.connect(CHAT)
    await ws.send(json.dumps({"type": "config", "llm_base_url": SCRIPTED_LLM_URL, "asr_ws_url": DEAD_WS_URLS[0]}))
    first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
    assert first == {"type": "ready"} and second["source"] == "asr"
    await ws.close()


async def test_text_that_is_not_unicode_is_an_error_and_the_session_goes_on(llm: ScriptedLlm) -> None:
    """A lone surrogate is valid JSON but not Unicode: it once wedged the session (only `thinking` after)."""
    ws = await start()
    await ws.send('{"type": "text_input", "text": "hi \\ud800"}')
    error = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert error["type"] == "error" and error["source"] == "client" and "surrogate" in error["message"]
    await ws.send(json.dumps({"type": "text_input", "text": "Hello\u0000 there"}))  # NUL: a space
    received = await until(ws, "agent_end")
    assert "there" in agent_text(received)
    assert llm.requests[-1][-1] == {"role": "user", "content": "Hello  there"}
    await ws.close()


async def test_text_turns_beyond_the_rate_get_an_error_and_the_session_stays(llm: ScriptedLlm) -> None:
    ws = await start()
    for index in range(31):  # the default allows 30 a minute
        await ws.send(json.dumps({"type": "text_input", "text": f"message {index}"}))
    async with asyncio.timeout(30):
        while True:
            message = await ws.recv()
            if isinstance(message, str) and json.loads(message).get("code") == "rate_limited":
                break
    await ws.send(json.dumps({"type": "end"}))
    await ws.wait_closed()


@pytest.mark.parametrize(
    "first_message",
    [
        {"type": "text_input", "text": "hi"},
        {"type": "config", "llm_base_url": "http://169.254.169.254/latest"},
        {"type": "config", "tts_ws_url": "ws://evil.example/ws/tts"},
        {"type": "config", "language": "de"},
    ],
)
async def test_bad_first_message_is_an_error_and_closes(fleet: str, first_message: dict) -> None:
    async with websockets.connect(CHAT) as ws:
        await ws.send(json.dumps(first_message))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "error" and reply["message"]
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def test_bridge_port_uses_an_external_asr(llm: ScriptedLlm) -> None:
    ws = await start(BRIDGE, asr_ws_url="ws://127.0.0.1:8124/ws/transcribe/vad")
    await send_audio(ws, pcm_of("asr/sb_spk1_snt1.wav") + bytes(CHUNK * 2 * 10))
    received = await until(ws, "agent_end", within_s=60)
    assert "transcript" in events(received) and "audio" in events(received)
    await ws.close()


async def test_an_asr_stream_closed_while_the_user_types_is_reopened_by_speech(llm: ScriptedLlm) -> None:
    """An ASR closes streams that send nothing for a while (ours after STREAM_IDLE_TIMEOUT_S). This one,
    an external ASR the test brings, closes after 1 s and answers each audio message with a final."""
    streams = 0

    async def forgetful_asr(stream: websockets.ServerConnection) -> None:
        nonlocal streams
        streams += 1
        while True:
            try:
                await asyncio.wait_for(stream.recv(), 1.0)
            except TimeoutError:
                await stream.close(1001, "idle timeout")
                return
            except websockets.ConnectionClosed:
                return
            await stream.send(json.dumps({"type": "transcript", "text": f"stream {streams}", "is_final": True}))

    port = int(FORGETFUL_ASR_URL.rsplit(":", 1)[1].strip("/"))
    async with websockets.serve(forgetful_asr, "127.0.0.1", port):
        ws = await start(asr_ws_url=FORGETFUL_ASR_URL)
        await ws.send(json.dumps({"type": "text_input", "text": "typing only"}))
        await until(ws, "agent_end")
        await asyncio.sleep(1.5)  # the ASR has closed the idle stream by now
        await ws.send(audio_event(bytes(CHUNK * 2)))
        received = await until(ws, "agent_end", within_s=30)
        assert agent_text(received) == "You said: stream 2. Thanks."
        assert "error" not in events(received)  # an orderly close is no error
        await ws.close()


@pytest.mark.parametrize(
    ("language", "prompt"), [("en", "Say hello in one short sentence."), ("vi", "Xin chào! Bạn khỏe không?")]
)
async def test_default_llm_is_the_local_llama_cpp_server(fleet: str, language: str, prompt: str) -> None:
    """A real turn through the fleet's own LLM (built portable by `make install`); afterwards every port
    of the fleet still answers (a crashing LLM once took them all down)."""
    async with websockets.connect(CHAT, max_size=2**22, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "config", "language": language}))  # no llm_base_url: the default
        assert json.loads(await ws.recv()) == {"type": "ready"}
        await ws.send(json.dumps({"type": "text_input", "text": prompt}))
        received = await until(ws, "agent_end", within_s=60)
    assert "error" not in events(received), received
    assert len(agent_text(received).split()) >= 2
    assert any(isinstance(i, bytes) for i in received)
    async with httpx.AsyncClient(timeout=5) as client:
        for url in FLEET_HEALTH_URLS:
            assert (await client.get(url)).status_code == 200, f"{url} is down after a default-LLM turn"
        # The bridge port routes only the WebSocket; a plain GET reaching voicechat proves the route is up.
        assert (await client.get("http://127.0.0.1:8125/ws/voice-chat")).status_code < 500


async def test_tts_output_as_the_users_voice(llm: ScriptedLlm) -> None:
    """The tts service's own speech, resampled to 16 kHz, is a second kind of microphone input."""
    async with websockets.connect("ws://127.0.0.1:8005/ws/tts") as tts:
        await tts.send(json.dumps({"target_text": "What time does the shop open tomorrow?", "language": "en"}))
        pcm24 = b""
        while isinstance(message := await tts.recv(), bytes):
            pcm24 += message
    samples = np.frombuffer(pcm24, dtype="<i2").astype(np.float32)
    pcm16 = soxr.resample(samples, 24000, 16000).astype("<i2").tobytes()
    ws = await start()
    await send_audio(ws, pcm16 + bytes(CHUNK * 2 * 10))
    received = await until(ws, "agent_end", within_s=60)
    finals = [i["text"] for i in received if isinstance(i, dict) and i["type"] == "transcript" and i["is_final"]]
    assert finals and "shop" in finals[-1].lower() and "tomorrow" in finals[-1].lower(), finals
    assert "shop" in agent_text(received).lower()
    await ws.close()


def system_prompt(messages: list[dict[str, str]]) -> str:
    return messages[0]["content"]


async def test_ssap_events_reach_the_client_and_the_llm(llm: ScriptedLlm) -> None:
    ws = await start(ssap=True)
    speech = pcm_of("asr/sb_spk1_snt1.wav") + bytes(CHUNK * 2 * 10)
    await send_audio(ws, speech)
    received = await until(ws, "ssap", within_s=60)
    profile = received[-1]["properties"]
    assert set(profile["gender"]) == {"female", "male"}
    await until(ws, "agent_end", within_s=60)
    # The next turn's system prompt carries the profile through SSAP_PROMPT_TEMPLATE.
    await ws.send(json.dumps({"type": "text_input", "text": "Hello again"}))
    await until(ws, "agent_end")
    likeliest = max(profile["gender"], key=profile["gender"].get)
    assert f"gender: {likeliest} (" in system_prompt(llm.requests[-1])
    await ws.close()


async def test_no_ssap_events_unless_asked(llm: ScriptedLlm) -> None:
    ws = await start()
    await send_audio(ws, pcm_of("asr/sb_spk1_snt1.wav") + bytes(CHUNK * 2 * 10))
    received = await until(ws, "agent_end", within_s=60)
    await ws.send(json.dumps({"type": "text_input", "text": "Hello again"}))
    received += await until(ws, "agent_end")
    assert "ssap" not in events(received)
    assert "gender:" not in system_prompt(llm.requests[-1])
    await ws.close()
