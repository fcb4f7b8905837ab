"""The tts service in process: an unreachable catalog is a retryable 503 on the OpenAI route and an
error event on the socket, not a crash; syntheses past the gate are refused as busy; a sentence cut
after its first words is heard whole, and so is one the client cut (the voice agent's first piece, then the
rest with `continues`)."""

from pathlib import Path

import numpy as np
import pytest
import soxr
from faster_whisper import WhisperModel

from services.asr.models import load_asr_model
from services.asr.settings import AsrSettings
from services.common.errors import ServiceBusy
from services.common.text_pieces import known_first_piece
from services.tts.engines.base import Voice
from services.tts.engines.loader import loaders
from services.tts.service import TtsService
from services.tts.settings import OUTPUT_RATE, TtsSettings
from tests.in_process import ServiceApp
from tests.text import normalize

DEAD_CATALOG_URL = "http://127.0.0.1:8298"  # nothing listens there during the tests


def test_an_unreachable_catalog_is_a_retryable_503_not_a_crash(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("tts", tmp_path, CATALOG_URL=DEAD_CATALOG_URL) as client:
        response = client.post("/v1/audio/speech", json={"input": "Good morning.", "language": "en"})
        assert response.status_code == 503, response.text
        error = response.json()["error"]  # OpenAI's shape on /v1/
        assert error["code"] == "busy" and error["type"] == "server_error"
        assert "catalog is unreachable" in error["message"]
        assert int(response.headers["Retry-After"]) > 0
        with client.websocket_connect("/ws/tts") as ws:
            ws.send_json({"target_text": "Good morning.", "language": "en"})
            event = ws.receive_json()
        assert event["type"] == "error" and "catalog is unreachable" in event["message"], event


async def test_a_synthesis_past_the_gate_is_busy_before_any_work_and_a_finished_one_frees_its_place(
    tmp_path: Path,
) -> None:
    """One worker, no queue: a synthesis holds its place until its last frame is out."""
    settings = TtsSettings(tts_workers=1, tts_queue_size=0, data_dir=tmp_path, catalog_url=DEAD_CATALOG_URL)
    tts = TtsService(settings)
    tts.engines["espeak"].load(loaders(settings)["espeak"])
    voice = Voice(engine="espeak", voice="en-us", language="en")
    try:
        first = tts.stream(["The first sentence is said.", "Then a second one."], voice)
        assert await anext(first)  # its place is held while the client is still reading
        with pytest.raises(ServiceBusy, match="tts is at capacity"):
            await anext(tts.stream(["Hello."], voice))
        assert b"".join([frame async for frame in first])  # the rest of the first synthesis
        assert b"".join([frame async for frame in tts.stream(["Hello."], voice)])  # its place was freed
    finally:
        tts.pool.shutdown()
        await tts.catalog.close()


@pytest.fixture(scope="module")
def whisper() -> WhisperModel:
    return load_asr_model(AsrSettings())


def heard(whisper: WhisperModel, audio: np.ndarray, rate: int) -> str:
    audio16k = soxr.resample(audio, rate, 16_000).astype(np.float32)
    segments, _ = whisper.transcribe(audio16k, language="en", beam_size=5, vad_filter=False)
    return normalize(" ".join(segment.text for segment in segments))


@pytest.mark.service
async def test_a_sentence_cut_after_its_first_words_is_heard_whole(tmp_path: Path, whisper: WhisperModel) -> None:
    """Through the service as it streams: the first words, their clause pause, the rest: no word lost or
    doubled at the seam."""
    settings = TtsSettings(data_dir=tmp_path, catalog_url=DEAD_CATALOG_URL)
    tts = TtsService(settings)
    tts.engines["piper"].load(loaders(settings)["piper"])
    voice = Voice(engine="piper", voice="en_US-joe-medium", language="en")
    try:
        for text in [
            "Your package was delivered to the front desk this morning.",
            "The meeting with the finance team moved to Thursday afternoon.",
        ]:
            pieces = tts.check_text(text)
            assert len(pieces) == 2, pieces  # cut after the first words
            pcm = b"".join([frame async for frame in tts.stream(pieces, voice)])
            assert heard(whisper, np.frombuffer(pcm, dtype="<i2") / 32768, OUTPUT_RATE) == normalize(text)
            # The voice agent's way: the first piece sent before the sentence is complete, then the rest with
            # `continues` (not cut again): the same pieces, heard the same.
            first = known_first_piece(" ".join(text.split()[:6]) + " ")  # six words fix the cut
            head, rest = tts.check_text(first.said), tts.check_text(text[first.end :], continues=True)
            assert head + rest == pieces, (head, rest)
            pcm = b"".join([frame async for frame in tts.stream(head, voice)])
            pcm += b"".join([frame async for frame in tts.stream(rest, voice, continues=True)])
            assert heard(whisper, np.frombuffer(pcm, dtype="<i2") / 32768, OUTPUT_RATE) == normalize(text)
    finally:
        tts.pool.shutdown()
        await tts.catalog.close()
