"""The asr service: a model that cannot load, the bounded queue, an idle stream, a voice service that
cannot be reached and a diarizer that cannot load, with its app in process; and, as a process (an
upload sent half-way needs a socket), the model's budget: busy answered before an upload is read,
streams beside files."""

import asyncio
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import websockets
from starlette.testclient import TestClient, WebSocketTestSession

from services.asr.models import available_cpus
from tests.audio_files import wav_bytes
from tests.conftest import DATA, wait_until
from tests.in_process import ServiceApp, running_service
from tests.processes import service_process
from tests.streaming import Received, audio_message, receive_all
from tests.text import normalize
from tests.word_recall import READERS, joined, load

PORT = 8291
JFK = ("jfk.flac", (DATA / "asr/en_jfk.flac").read_bytes())
SHORT_CLIP = ("snt1.wav", (DATA / "asr/sb_spk1_snt1.wav").read_bytes())  # 2.9 s: a decode still outlasts six sends
CLOSE_WAIT_S = 10
RATE = 16_000
DEAD_VOICE_URL = "http://127.0.0.1:8298"  # nothing listens there during the tests


def asr_process(tmp_path: Path, **env: str) -> AbstractContextManager[str]:
    return service_process("services.asr.main:app", PORT, tmp_path, **env)


@pytest.fixture(scope="module")
def asr_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the tests below that each need one setting away from the defaults, none of which the others
    touch (loading the model once per test was most of their time): one file worker and a queue of one, a
    1 s idle timeout, a voice service that is not there and a diarization pipeline that cannot load."""
    data_dir = tmp_path_factory.mktemp("asr")
    pipeline_dir = data_dir / "my-pipeline"
    pipeline_dir.mkdir()
    env = {
        "ASR_WORKERS": "1",
        "ASR_QUEUE_SIZE": "1",
        "STREAM_IDLE_TIMEOUT_S": "1",
        "VOICE_URL": DEAD_VOICE_URL,
        "DIARIZATION_MODEL": str(pipeline_dir),
    }
    with running_service("asr", data_dir, **env) as client:
        yield client


def test_missing_model_answers_503_with_the_reason(service_app: ServiceApp, tmp_path: Path) -> None:
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with service_app("asr", tmp_path, ASR_MODEL=str(broken)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "missing model.bin" in ready.json()["error"]
        response = client.post("/transcribe", files={"file": JFK})
        assert response.status_code == 503
        assert "ASR model unavailable" in response.json()["detail"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def rejections(client: httpx.Client) -> float:
    """The asr budget's refusals so far, from /metrics (the counter is process-wide)."""
    found = re.search(r'^inference_rejected_total\{pool="asr"\} (\S+)$', client.get("/metrics").text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_requests_past_the_queue_bound_get_503_with_retry_after(asr_app: TestClient) -> None:
    """One worker and a queue of one."""
    before = rejections(asr_app)
    with ThreadPoolExecutor(6) as senders:  # six requests at once, each on its own thread
        responses = list(senders.map(lambda _: asr_app.post("/transcribe", files={"file": SHORT_CLIP}), range(6)))
    counted = rejections(asr_app) - before
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 2, codes  # one running + one queued always fit
    rejected = [r for r in responses if r.status_code == 503]
    assert rejected, codes
    for response in rejected:
        assert response.headers["retry-after"].isdigit()
        assert "capacity" in response.json()["detail"]
    assert counted == len(rejected)


BOUNDARY = "voicefleet-test-boundary"


def multipart(path: str, data: bytes) -> tuple[bytes, bytes]:
    """The request head and the multipart body of a POST `path` with `data` as `file`."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode(), body


async def answer_to_a_partial_upload(url: str, data: bytes) -> tuple[str, dict[str, str]]:
    """Send the head and the first kilobyte of an upload, then read the answer: it can only come
    before the body is read (the rest is never sent)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head, body = multipart("/transcribe", data)
        writer.write(head + body[:1024])
        await writer.drain()
        status = (await reader.readline()).decode().strip()
        headers = {}
        while (line := (await reader.readline()).decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        return status, headers
    finally:
        writer.close()


async def until_a_job_runs(client: httpx.AsyncClient) -> None:
    for _ in range(1200):
        metrics = (await client.get("/metrics")).text
        found = re.search(r'^inference_pending\{pool="asr"\} (\S+)$', metrics, re.MULTILINE)
        if found and float(found.group(1)) >= 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the upload never reached the budget")


async def stream_one_clip(ws, samples) -> Received:
    """Send `samples` in 100 ms chunks, as fast as they go, then `end`; what came back."""
    received = Received()
    reader = asyncio.create_task(receive_all(ws, received))
    for offset in range(0, samples.size, 1600):
        await ws.send(audio_message(samples[offset : offset + 1600]))
    await ws.send(json.dumps({"type": "end"}))
    await asyncio.wait_for(reader, 120)
    return received


@pytest.mark.service  # one service, as a process
@pytest.mark.slow  # a 2.5-minute file on one thread
async def test_with_the_file_thread_taken_an_upload_is_refused_unread_and_streams_decode(tmp_path: Path) -> None:
    """One file thread and no queue: while a long file is decoded, a second upload gets 503 before
    its body is read, a stream's turns are decoded on the stream threads, a second stream is refused
    (error event, 1013), and once the file is done the next upload is served."""
    long_file = wav_bytes(joined(READERS * 2, 1.0))  # about 2.5 minutes: several windows on one thread
    env = {"ASR_WORKERS": "1", "ASR_QUEUE_SIZE": "0", "STREAM_MAX_CONNECTIONS": "1"}
    with asr_process(tmp_path, **env) as url:
        ws_url = url.replace("http", "ws") + "/ws/transcribe/vad"
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            long_request = asyncio.create_task(client.post("/transcribe", files={"file": ("long.wav", long_file)}))
            await until_a_job_runs(client)
            status, headers = await asyncio.wait_for(answer_to_a_partial_upload(url, long_file), 30)
            assert status.startswith("HTTP/1.1 503"), status
            assert headers["retry-after"].isdigit()

            async with websockets.connect(ws_url) as stream:
                async with websockets.connect(ws_url) as second_stream:
                    refused = Received()
                    await asyncio.wait_for(receive_all(second_stream, refused), 30)
                assert refused.close_code == 1013
                assert refused.of_type("error") and "too many streams" in refused.events[0]["message"]
                received = await stream_one_clip(stream, load("asr/sb_spk1_snt1.wav"))
            assert "small dog" in normalize(" ".join(received.finals())), received.events
            assert not long_request.done()  # the stream was decoded beside the file, not after it

            long_response = await long_request
            assert long_response.status_code == 200, long_response.text
            assert "country" in normalize(long_response.json()["text"])
            clip = (DATA / "asr/en_jfk.flac").read_bytes()
            after = await client.post("/transcribe", files={"file": ("jfk.flac", clip)})
            assert after.status_code == 200 and "country" in after.json()["text"]


def until_closed(ws: WebSocketTestSession) -> tuple[list[dict], dict]:
    """The events the server sends, then its close message; TimeoutError when nothing comes for
    CLOSE_WAIT_S (the waiting thread is freed when the client closes)."""
    waiter = ThreadPoolExecutor(1)
    events = []
    try:
        while (message := waiter.submit(ws.receive).result(CLOSE_WAIT_S))["type"] != "websocket.close":
            events.append(json.loads(message["text"]))
        return events, message
    finally:
        waiter.shutdown(wait=False)


def test_idle_stream_is_closed_cleanly(asr_app: TestClient) -> None:
    """STREAM_IDLE_TIMEOUT_S=1."""
    with asr_app.websocket_connect("/ws/transcribe/vad") as ws:
        _, closed = until_closed(ws)
    assert (closed["code"], closed["reason"]) == (1001, "idle timeout")


def test_an_unreachable_profiler_is_one_error_and_transcripts_go_on(asr_app: TestClient) -> None:
    """VOICE_URL points nowhere: a stream that asked for profiles is told so once and keeps transcribing."""
    silence = np.zeros(RATE, np.float32)
    two_turns = np.concatenate([load("asr/sb_spk1_snt1.wav"), silence, load("asr/sb_spk2_snt1.wav"), silence])
    with asr_app.websocket_connect("/ws/transcribe/vad?ssap=true") as ws:
        for offset in range(0, two_turns.size, RATE // 10):  # 100 ms chunks, as fast as they go
            ws.send_text(audio_message(two_turns[offset : offset + RATE // 10]))
        ws.send_text(json.dumps({"type": "end"}))
        events, _ = until_closed(ws)
    finals = [e for e in events if e["type"] == "transcript" and e["is_final"]]
    errors = [e for e in events if e["type"] == "error"]
    assert len(finals) == 2, events
    assert len(errors) == 1 and errors[0]["message"].startswith("voice profiling unavailable"), events
    assert not [e for e in events if e["type"] == "ssap"], events


def test_a_diarization_model_that_cannot_load_is_reported_and_transcribe_still_works(asr_app: TestClient) -> None:
    """DIARIZATION_MODEL is a directory that holds no pipeline."""

    def diarizer_settled() -> bool:
        return asr_app.get("/readyz").json()["diarization"].get("state") != "loading"

    wait_until(diarizer_settled, 60, "the diarizer to load or fail")
    assert "pyannote.audio" in asr_app.get("/readyz").json()["diarization"]["error"]
    diarized = asr_app.post("/transcribe-with-property", files={"file": JFK})
    assert diarized.status_code == 503
    assert "diarization unavailable" in diarized.json()["detail"]
    plain = asr_app.post("/transcribe", files={"file": SHORT_CLIP})
    assert plain.status_code == 200 and "small dog" in normalize(plain.json()["text"])


def solo_decodes(client: httpx.Client) -> float:
    found = re.search(r'^asr_inference_seconds_count\{mode="solo"\} (\S+)$', client.get("/metrics").text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.skipif(available_cpus() < 2, reason="a solo model needs more than one CPU")
def test_a_lone_request_takes_every_cpu_only_while_they_are_free_and_reads_the_same(asr_app: TestClient) -> None:
    """Nothing else on the model and the CPUs free of other work: the solo copy (every CPU thread) decodes it.
    Split over cores that others keep busy, a decode would wait for its slowest thread at every step: with
    the CPUs taken (the reading pinned to none free), the lone request goes to a one-thread worker, and reads
    the same. The machine's own load is not the test's to choose, so the reading is pinned both times."""
    assert asr_app.get("/readyz").json()["solo_threads"] == available_cpus()
    service = asr_app.app.state.asr
    headroom, texts = service.cpu_headroom, {}
    try:
        for free, solo_added in ((float(available_cpus()), 1), (0.0, 0)):
            service.cpu_headroom = SimpleNamespace(free=free)
            before = solo_decodes(asr_app)
            response = asr_app.post("/transcribe", files={"file": SHORT_CLIP}, data={"language": "en"})
            assert response.status_code == 200, response.text
            assert solo_decodes(asr_app) == before + solo_added, free
            texts[free] = normalize(response.json()["text"])
    finally:
        service.cpu_headroom = headroom
    assert "small dog" in texts[0.0]
    assert texts[0.0] == texts[float(available_cpus())]
