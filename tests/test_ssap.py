"""Voice profiling (SSAP) through Traefik: POST /voice/profile on voices whose gender is known, and
`ssap` events in /ws/transcribe/vad streams only when asked for, one per turn."""

import asyncio
import json
from collections import Counter

import numpy as np
import pytest
import websockets
from faster_whisper.vad import VadOptions, get_speech_timestamps

from services.common.audio import to_pcm16, wav_bytes
from tests.audio_files import read_mono
from tests.conftest import DATA
from tests.known_voices import known_voices
from tests.streaming import Received, audio_message, stream

pytestmark = pytest.mark.fleet

URL = "ws://127.0.0.1:8124/ws/transcribe/vad"
RATE = 16_000


def clip(name: str) -> np.ndarray:
    return read_mono((DATA / name).read_bytes())


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def speech_crop(samples: np.ndarray, seconds: float) -> np.ndarray:
    """`seconds` of audio from the first speech onset Silero finds."""
    onset = get_speech_timestamps(samples, VadOptions())[0]["start"]
    return samples[onset : onset + int(seconds * RATE)]


def wav(samples: np.ndarray) -> bytes:
    return wav_bytes(to_pcm16(samples), RATE)


def assert_distribution(scores: dict[str, float]) -> None:
    assert scores and all(0.0 <= p <= 1.0 for p in scores.values()), scores
    assert abs(sum(scores.values()) - 1.0) < 1e-3, scores


async def test_gender_of_voices_whose_gender_is_known(gateway) -> None:
    right, total, misses = Counter(), Counter(), []
    for voice in known_voices():
        response = await gateway.post("/voice/profile", files={"file": ("voice.wav", voice.wav, "audio/wav")})
        assert response.status_code == 200, response.text
        body = response.json()
        gender = body["properties"]["gender"]
        assert set(gender) == {"female", "male"}
        assert_distribution(gender)
        total[voice.family] += 1
        if max(gender, key=gender.get) == voice.gender:
            right[voice.family] += 1
        else:
            misses.append(f"{voice.voice} ({voice.gender}): {gender}")
    assert total == {"piper": 2, "kokoro": 10, "espeak": 91}
    for family in total:  # voice2gender scores 103/103 here (docs/BENCHMARKS.md)
        assert right[family] / total[family] >= 0.9, misses
    assert sum(right.values()) / sum(total.values()) >= 0.95, misses


async def test_missing_models_are_absent_and_explained(gateway) -> None:
    response = await gateway.post(
        "/voice/profile", files={"file": ("lj.wav", (DATA / "asr/en_LJ050-0131.wav").read_bytes())}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["properties"]) == {"gender"}  # no age or emotion model ships offline
    assert body["properties"]["gender"]["female"] > 0.5  # LJSpeech: one female reader
    models = body["models"]
    assert models["gender"] == {"available": True, "model": "voice2gender-0.1.1", "reason": None}
    for name in ("age", "emotion"):
        assert models[name]["available"] is False
        assert models[name]["reason"] == f"SSAP_{name.upper()}_MODEL is not set"
    assert 5 < body["voiced_seconds"] < 7.7


async def test_half_a_second_gets_no_profile(gateway) -> None:
    short = speech_crop(clip("asr/en_one_two_three.wav"), 0.5)
    response = await gateway.post("/voice/profile", files={"file": ("short.wav", wav(short))})
    assert response.status_code == 422
    assert "voiced audio; a profile needs at least 1.0 s" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"", "empty"), (b"not audio at all" * 100, "could not decode"), (wav(silence(3)), "0.00 s of voiced audio")],
)
async def test_bad_uploads_get_422(gateway, payload: bytes, message: str) -> None:
    response = await gateway.post("/voice/profile", files={"file": ("x.wav", payload)})
    assert response.status_code == 422
    assert message in response.json()["detail"]


def two_turns() -> np.ndarray:
    """Two sentences by two speakers, each followed by 1 s of silence (two turns at silence_ms=300)."""
    return np.concatenate([clip("asr/sb_spk1_snt1.wav"), silence(1), clip("asr/sb_spk2_snt1.wav"), silence(1)])


async def send_all(ws: websockets.ClientConnection, samples: np.ndarray) -> None:
    for offset in range(0, samples.size, 1600):
        await ws.send(audio_message(samples[offset : offset + 1600]))


def ssap_after_finals(received: Received) -> list[int]:
    """For each ssap event, how many final transcripts came before it."""
    counts, finals = [], 0
    for event in received.events:
        if event.get("type") == "transcript" and event["is_final"]:
            finals += 1
        elif event.get("type") == "ssap":
            counts.append(finals)
    return counts


async def test_stream_with_ssap_gives_one_profile_per_turn(fleet: str) -> None:
    received, _ = await stream(URL + "?ssap=true", two_turns())
    assert len(received.finals()) == 2, received.events
    profiles = received.of_type("ssap")
    assert len(profiles) == 2, received.events
    for event in profiles:
        assert set(event) == {"type", "properties"}
        assert_distribution(event["properties"]["gender"])
    # A profile starts once its turn has 2 s of voice: the first one is out before the second turn ends.
    assert ssap_after_finals(received)[0] <= 1, received.events


async def test_stream_without_ssap_gets_no_profile(fleet: str) -> None:
    received, _ = await stream(URL, two_turns())
    assert len(received.finals()) == 2, received.events
    assert not received.of_type("ssap"), received.events


async def test_ssap_switched_on_mid_stream(fleet: str) -> None:
    first, second = clip("asr/sb_spk1_snt1.wav"), clip("asr/sb_spk2_snt1.wav")
    received = Received()
    async with websockets.connect(URL) as ws:
        await send_all(ws, np.concatenate([first, silence(1)]))
        async with asyncio.timeout(30):
            while not received.finals():  # the first turn is over before ssap is switched on
                received.events.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "config", "ssap": True}))
        await send_all(ws, np.concatenate([second, silence(1)]))
        await ws.send(json.dumps({"type": "end"}))
        received.events += [json.loads(message) async for message in ws]
    assert len(received.finals()) == 2, received.events
    assert ssap_after_finals(received) == [1], received.events  # only the turn after the config


async def test_a_half_second_turn_gets_no_profile(fleet: str) -> None:
    short = speech_crop(clip("asr/en_one_two_three.wav"), 0.5)
    received, _ = await stream(URL + "?ssap=true", np.concatenate([silence(0.5), short, silence(1.5)]))
    assert not received.of_type("ssap"), received.events
    assert not received.of_type("error"), received.events
