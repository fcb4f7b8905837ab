"""The asr service as a process: readiness, a missing model, and the bounded queue."""

import asyncio
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import websockets

from tests.conftest import DATA, wait_until
from tests.processes import service_process
from tests.streaming import Received, receive_all

PORT = 8291


def asr_process(tmp_path: Path, **env: str) -> AbstractContextManager[str]:
    return service_process("services.asr.main:app", PORT, tmp_path, **env)


def test_missing_model_answers_503_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with asr_process(tmp_path, ASR_MODEL=str(broken)) as url:
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503
        assert "missing model.bin" in ready.json()["error"]
        response = httpx.post(f"{url}/transcribe", files={"file": ("a.flac", (DATA / "asr/en_jfk.flac").read_bytes())})
        assert response.status_code == 503
        assert "ASR model unavailable" in response.json()["detail"]
        assert httpx.get(f"{url}/healthz").status_code == 200  # alive, just not ready


async def test_requests_past_the_queue_bound_get_503_with_retry_after(tmp_path: Path) -> None:
    clip = (DATA / "asr/en_jfk.flac").read_bytes()
    with asr_process(tmp_path, ASR_WORKERS="1", ASR_QUEUE_SIZE="1") as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            responses = await asyncio.gather(
                *(client.post("/transcribe", files={"file": ("a.flac", clip)}) for _ in range(6))
            )
            metrics = (await client.get("/metrics")).text
        codes = sorted(r.status_code for r in responses)
        assert codes.count(200) >= 2, codes  # one running + one queued always fit
        rejected = [r for r in responses if r.status_code == 503]
        assert rejected, codes
        for response in rejected:
            assert response.headers["retry-after"].isdigit()
            assert "capacity" in response.json()["detail"]
        assert 'inference_rejected_total{pool="asr"}' in metrics


async def test_idle_stream_is_closed_cleanly(tmp_path: Path) -> None:
    with asr_process(tmp_path, STREAM_IDLE_TIMEOUT_S="1") as url:
        ws_url = url.replace("http", "ws") + "/ws/transcribe/vad"
        async with websockets.connect(ws_url) as ws:
            received = Received()
            await asyncio.wait_for(receive_all(ws, received), 10)
        assert received.close_code == 1001
        assert ws.close_reason == "idle timeout"


def test_a_diarization_model_that_cannot_load_is_reported_and_transcribe_still_works(tmp_path: Path) -> None:
    pipeline_dir = tmp_path / "my-pipeline"
    pipeline_dir.mkdir()
    with asr_process(tmp_path, DIARIZATION_MODEL=str(pipeline_dir)) as url:

        def diarizer_settled() -> bool:
            return httpx.get(f"{url}/readyz").json()["diarization"].get("state") != "loading"

        wait_until(diarizer_settled, 60, "the diarizer to load or fail")
        ready = httpx.get(f"{url}/readyz").json()
        assert "pyannote.audio" in ready["diarization"]["error"]
        clip = (DATA / "asr/en_jfk.flac").read_bytes()
        diarized = httpx.post(f"{url}/transcribe-with-property", files={"file": ("a.flac", clip)}, timeout=60)
        assert diarized.status_code == 503
        assert "diarization unavailable" in diarized.json()["detail"]
        plain = httpx.post(f"{url}/transcribe", files={"file": ("a.flac", clip)}, timeout=60)
        assert plain.status_code == 200 and "country" in plain.json()["text"]
