"""POST /transcribe and /v1/audio/transcriptions through Traefik, with the embedded Whisper model."""

import asyncio
import socket

import httpx
import jiwer
import numpy as np
import pytest

from tests.audio_files import convert, read_mono, wav_bytes
from tests.conftest import DATA, manifest
from tests.text import ENGLISH_CLIPS, normalize, reference_text

pytestmark = pytest.mark.fleet

JFK = DATA / "asr" / "en_jfk.flac"


async def transcribe(client: httpx.AsyncClient, name: str, data: bytes, **form: str) -> httpx.Response:
    return await client.post("/transcribe", files={"file": (name, data)}, data=form)


async def test_jfk_text_and_response_shape(gateway: httpx.AsyncClient) -> None:
    response = await transcribe(gateway, "jfk.flac", JFK.read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"filename", "text", "segments", "duration", "processing_time"} <= body.keys()
    assert body["filename"] == "jfk.flac"
    assert "ask not what your country can do for you" in normalize(body["text"])
    assert body["duration"] == pytest.approx(11.0, abs=0.05)
    assert body["language"] == "en"
    assert 0 < body["processing_time"] < 60
    segments = body["segments"]
    assert segments, "expected at least one segment"
    for index, seg in enumerate(segments):
        assert set(seg) == {"id", "start", "end", "text", "tokens", "avg_logprob", "no_speech_prob", "language"}
        assert seg["language"] == "en"
        assert seg["id"] == index
        assert 0 <= seg["start"] < seg["end"] <= body["duration"] + 0.05
        assert seg["tokens"] and all(isinstance(t, int) for t in seg["tokens"])
    starts = [seg["start"] for seg in segments]
    assert starts == sorted(starts)
    assert response.headers.get("x-request-id")


async def test_english_corpus_word_error_rate(gateway: httpx.AsyncClient) -> None:
    """Corpus WER (all words pooled) over LibriSpeech, LJSpeech and the Harvard-sentence clips."""
    references, hypotheses = [], []
    for clip in ENGLISH_CLIPS:
        response = await transcribe(gateway, clip, (DATA / clip).read_bytes(), language="en")
        assert response.status_code == 200, response.text
        references.append(normalize(reference_text(manifest()[clip])))
        hypotheses.append(normalize(response.json()["text"]))
    assert jiwer.wer(references, hypotheses) < 0.15, list(zip(references, hypotheses, strict=True))


@pytest.mark.parametrize(
    ("clip", "language"),
    [
        ("multilingual/zh_aishell_BAC009S0724W0121.wav", "zh"),
        ("multilingual/ja_reazon_test_ja_1.wav", "ja"),
        ("multilingual/ru_gigaam_example.wav", "ru"),
    ],
)
async def test_language_detection(gateway: httpx.AsyncClient, clip: str, language: str) -> None:
    response = await transcribe(gateway, clip.split("/")[-1], (DATA / clip).read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == language
    assert body["text"]


async def test_forced_language_is_used(gateway: httpx.AsyncClient) -> None:
    clip = DATA / "multilingual/ru_gigaam_example.wav"
    response = await transcribe(gateway, "ru.wav", clip.read_bytes(), language="RU")
    assert response.status_code == 200, response.text
    assert response.json()["language"] == "ru"
    assert "различать" in response.json()["text"].lower()


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "webm", "wav"])
async def test_containers_give_the_same_text(gateway: httpx.AsyncClient, fmt: str) -> None:
    original = await transcribe(gateway, "jfk.flac", JFK.read_bytes(), language="en")
    converted = await transcribe(gateway, f"jfk.{fmt}", convert(JFK.read_bytes(), fmt), language="en")
    assert converted.status_code == 200, converted.text
    assert normalize(converted.json()["text"]) == normalize(original.json()["text"])


@pytest.mark.parametrize("clip", ["vad_eot/nonspeech_silence.wav", "vad_eot/nonspeech_noise.wav"])
async def test_silence_and_noise_give_empty_text(gateway: httpx.AsyncClient, clip: str) -> None:
    response = await transcribe(gateway, "x.wav", (DATA / clip).read_bytes())
    assert response.status_code == 200, response.text
    assert response.json()["text"] == ""
    assert response.json()["segments"] == []


async def test_digital_silence_gives_empty_text(gateway: httpx.AsyncClient) -> None:
    response = await transcribe(gateway, "zeros.wav", wav_bytes(np.zeros(16_000 * 5, np.float32)))
    assert response.status_code == 200, response.text
    assert response.json()["text"] == ""


def _bad_inputs() -> list[tuple[str, dict, dict, int, str]]:
    tone = (0.1 * np.sin(np.arange(1600) / 16_000 * 2 * np.pi * 440)).astype(np.float32)
    return [
        ("no file", {}, {}, 422, "file"),
        ("empty file", {"file": ("a.wav", b"")}, {}, 422, "empty"),
        ("corrupt bytes", {"file": ("a.wav", b"RIFF\x00\x01garbage" * 50)}, {}, 422, "decode"),
        ("text named .wav", {"file": ("notes.wav", b"hello, this is not audio\n" * 40)}, {}, 422, "decode"),
        ("unknown language", {"file": ("a.flac", JFK.read_bytes())}, {"language": "xx"}, 422, "language"),
        ("0.1 s of audio", {"file": ("short.wav", wav_bytes(tone))}, {}, 422, "too short"),
    ]


@pytest.mark.parametrize(
    ("name", "files", "form", "status", "needle"), _bad_inputs(), ids=[row[0] for row in _bad_inputs()]
)
async def test_bad_input_gets_a_clear_4xx(
    gateway: httpx.AsyncClient, name: str, files: dict, form: dict, status: int, needle: str
) -> None:
    response = await gateway.post("/transcribe", files=files or None, data=form)
    assert response.status_code == status, response.text
    body = response.json()
    assert needle in body["detail"].lower(), body
    assert body["request_id"] == response.headers["x-request-id"]


def test_upload_over_the_size_limit_gets_413(fleet: str) -> None:
    """A client that declares a 101 MiB body gets 413 before it has to send it (limit: 100 MiB)."""
    boundary = "x" * 16
    declared = 101 * 1024 * 1024
    head = (
        "POST /transcribe HTTP/1.1\r\nHost: 127.0.0.1:8124\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    )
    with socket.create_connection(("127.0.0.1", 8124), timeout=30) as sock:
        sock.sendall(head.encode() + b"\0" * 65536)
        reply = sock.recv(65536).decode("latin-1")
    status_line, _, rest = reply.partition("\r\n")
    assert " 413 " in status_line, reply
    assert "too large" in rest.lower(), reply


async def test_ten_concurrent_requests_all_succeed(gateway: httpx.AsyncClient) -> None:
    clip = DATA / "asr/sb_spk2_snt2.wav"  # "what joy there is in living"
    responses = await asyncio.gather(
        *(transcribe(gateway, f"c{i}.wav", clip.read_bytes(), language="en") for i in range(10))
    )
    assert [r.status_code for r in responses] == [200] * 10
    for response in responses:
        assert "joy" in normalize(response.json()["text"])


@pytest.mark.parametrize("fmt", ["json", "text", "verbose_json", "srt", "vtt"])
async def test_openai_response_formats(gateway: httpx.AsyncClient, fmt: str) -> None:
    response = await gateway.post(
        "/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK.read_bytes())},
        data={"model": "whisper-1", "response_format": fmt, "language": "en"},
    )
    assert response.status_code == 200, response.text
    if fmt == "json":
        assert "ask not what your country" in normalize(response.json()["text"])
    elif fmt == "verbose_json":
        body = response.json()
        assert body["language"] == "en" and body["duration"] == pytest.approx(11.0, abs=0.05)
        assert body["segments"][0]["start"] >= 0
    elif fmt == "text":
        assert "ask not what your country" in normalize(response.text)
    elif fmt == "srt":
        assert response.text.startswith("1\n00:00:0") and " --> " in response.text
    else:
        assert response.text.startswith("WEBVTT\n\n00:00:0")


async def test_openai_rejects_unknown_response_format(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK.read_bytes())},
        data={"response_format": "docx"},
    )
    assert response.status_code == 400  # OpenAI's status and shape on /v1/
    assert response.json()["error"]["param"] == "response_format"


async def test_long_file_is_chunked_and_timestamps_follow_the_original_timeline(
    gateway: httpx.AsyncClient,
) -> None:
    """Two clips 40 s apart: the batched path must place the second one after the gap."""
    jfk = read_mono(JFK.read_bytes())
    lj = read_mono((DATA / "asr/en_LJ050-0131.wav").read_bytes())
    gap = np.zeros(16_000 * 40, np.float32)
    audio = np.concatenate([jfk, gap, lj])
    response = await transcribe(gateway, "long.wav", wav_bytes(audio), language="en")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration"] == pytest.approx(audio.size / 16_000, abs=0.05)
    text = normalize(body["text"])
    assert "ask not what your country" in text and "formal review" in text
    late = [s for s in body["segments"] if "review" in s["text"].lower()]
    assert late and late[0]["start"] >= 11.0 + 40.0 - 1.0, body["segments"]
