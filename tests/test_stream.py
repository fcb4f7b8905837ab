"""WS /ws/transcribe/vad through Traefik: real speech streamed at real-time pace."""

import asyncio
import base64
import json

import numpy as np
import pytest
import websockets

from tests.audio_files import read_mono
from tests.conftest import DATA
from tests.streaming import Received, audio_message, receive_all, stream
from tests.text import normalize

pytestmark = pytest.mark.fleet

URL = "ws://127.0.0.1:8124/ws/transcribe/vad"
RATE = 16_000


def clip(name: str) -> np.ndarray:
    return read_mono((DATA / name).read_bytes())


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


async def test_jfk_gives_partials_then_one_final_at_end_of_turn(fleet: str) -> None:
    """JFK pauses 1.1 s between phrases, so this client asks for a 1.5 s end-of-turn silence, and silence
    only (the turn model hears "And so my fellow Americans," as finished: tests/test_turn_model.py)."""
    jfk = clip("asr/en_jfk.flac")
    received, _ = await stream(URL + "?silence_ms=1500&turn_model=false", np.concatenate([jfk, silence(2.0)]))
    assert received.partials(), received.events
    finals = received.finals()
    assert len(finals) == 1, received.events
    assert "ask not what your country can do for you" in normalize(finals[0])
    # Partials come before the final, and the turn ended on silence (before `end` was sent).
    kinds = [e["is_final"] for e in received.of_type("transcript")]
    assert kinds[-1] is True and all(k is False for k in kinds[:-1])
    assert received.close_code == 1000


async def test_default_silence_ms_splits_turns_at_pauses_longer_than_300_ms(fleet: str) -> None:
    jfk = clip("asr/en_jfk.flac")
    received, _ = await stream(URL, np.concatenate([jfk, silence(1.0)]))
    finals = [normalize(f) for f in received.finals()]
    assert len(finals) >= 3, received.events  # pauses of 1.1, 1.1 and 0.6 s
    assert "fellow americans" in finals[0]
    assert "your country" in finals[-1]


async def test_two_utterances_separated_by_silence_give_two_finals(fleet: str) -> None:
    audio = np.concatenate([clip("asr/sb_spk1_snt1.wav"), silence(1.0), clip("asr/sb_spk2_snt2.wav"), silence(1.0)])
    received, _ = await stream(URL, audio)
    finals = [normalize(f) for f in received.finals()]
    assert len(finals) == 2, received.events
    assert "child" in finals[0] and "dog" in finals[0]
    assert "joy" in finals[1] and "living" in finals[1]


async def test_audio_sent_faster_than_real_time_loses_no_turn(fleet: str) -> None:
    """Eight turns sent at once: the stream stops reading while four finals wait (backpressure), and
    every turn still gets its final, in order."""
    one, two = clip("asr/sb_spk1_snt1.wav"), clip("asr/sb_spk2_snt2.wav")
    audio = np.concatenate([part for _ in range(4) for part in (one, silence(1.0), two, silence(1.0))])
    async with websockets.connect(URL) as ws:
        received = Received()
        reader = asyncio.create_task(receive_all(ws, received))
        for offset in range(0, audio.size, RATE // 10):
            await ws.send(audio_message(audio[offset : offset + RATE // 10]))
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(reader, 120)
    finals = [normalize(f) for f in received.finals()]
    assert len(finals) == 8, received.events
    assert all("dog" in f for f in finals[0::2]) and all("joy" in f for f in finals[1::2]), finals


async def test_noise_only_gives_no_text(fleet: str) -> None:
    received, _ = await stream(URL, clip("vad_eot/nonspeech_noise.wav")[: RATE * 6])
    assert received.of_type("transcript") == [], received.events
    assert received.close_code == 1000


async def test_end_mid_utterance_flushes_a_final(fleet: str) -> None:
    jfk = clip("asr/en_jfk.flac")[: int(RATE * 4.4)]  # "And so my fellow Americans, ask not"
    # Silence only: the turn model would end "And so my fellow Americans," at its 1.1 s pause.
    received, _ = await stream(URL + "?silence_ms=1500&turn_model=false", jfk)
    finals = received.finals()
    assert len(finals) == 1, received.events
    assert "fellow americans" in normalize(finals[0])


async def test_end_without_speech_closes_without_a_final(fleet: str) -> None:
    received, _ = await stream(URL, silence(0.6))
    assert received.events == []
    assert received.close_code == 1000


async def test_config_message_is_accepted(fleet: str) -> None:
    async with websockets.connect(URL) as ws:
        received = Received()
        reader = asyncio.create_task(receive_all(ws, received))
        await ws.send(json.dumps({"type": "config", "ssap": True}))
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(reader, 10)
    assert received.of_type("error") == []


async def test_bad_messages_get_error_events_and_the_stream_keeps_working(fleet: str) -> None:
    odd = base64.b64encode(b"\x01\x02\x03").decode()
    long_chunk = audio_message(silence(0.4))  # >= silence_ms (300 ms)
    bad = [
        "this is not json",
        json.dumps([1, 2, 3]),
        json.dumps({"audio_event": {"audio_base_64": "%%% not base64 %%%"}}),
        json.dumps({"audio_event": {"audio_base_64": odd}}),
        json.dumps({"type": "dance"}),
        json.dumps({"hello": "world"}),
        json.dumps({"type": "config", "language": "xx"}),  # refused; the stream keeps its language
        "[" * 10_000 + "]" * 10_000,
        long_chunk,
    ]
    speech = np.concatenate([clip("asr/sb_spk2_snt2.wav"), silence(1.0)])
    async with websockets.connect(URL) as ws:
        received = Received()
        reader = asyncio.create_task(receive_all(ws, received))
        for message in bad:
            await ws.send(message)
        await ws.send(b"\x00\x01binary")
        for offset in range(0, speech.size, RATE // 10):
            await ws.send(audio_message(speech[offset : offset + RATE // 10]))
            await asyncio.sleep(0.05)
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(reader, 30)
    errors = received.of_type("error")
    assert len(errors) == len(bad) + 1, received.events
    messages = " | ".join(e["message"] for e in errors)
    for needle in (
        "json",
        "base64",
        "odd byte count",
        "unknown message",
        "unsupported language",
        "nested",
        "too long",
        "binary",
    ):
        assert needle in messages.lower(), messages
    assert len(received.finals()) == 1 and "joy" in normalize(received.finals()[0])


async def test_invalid_query_parameter_is_refused(fleet: str) -> None:
    async with websockets.connect(URL + "?silence_ms=abc") as ws:
        received = Received()
        await asyncio.wait_for(receive_all(ws, received), 10)
    assert received.of_type("error") and "silence_ms" in received.events[0]["message"]
    assert received.close_code == 1008


async def test_four_concurrent_streams_get_their_own_finals(fleet: str) -> None:
    clips = {
        "asr/sb_spk1_snt1.wav": ("child", "dog"),
        "asr/sb_spk1_snt3.wav": ("high", "pure"),
        "asr/sb_spk2_snt2.wav": ("joy", "living"),
        "asr/sb_spk2_snt1.wav": ("sure", "enough"),
    }
    results = await asyncio.gather(*(stream(URL, np.concatenate([clip(name), silence(1.2)])) for name in clips))
    for (name, words), (received, _) in zip(clips.items(), results, strict=True):
        finals = [normalize(f) for f in received.finals()]
        assert len(finals) == 1, (name, received.events)
        assert all(w in finals[0] for w in words), (name, finals)
