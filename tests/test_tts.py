"""TTS through Traefik on :8005: every language streams non-silent 24 kHz PCM, English and Japanese
come back through the asr service as the same words, speakers resolve by id, collection or default,
and bad requests get error events without closing the connection."""

import io
import json
import os
import wave
from pathlib import Path

import httpx
import jiwer
import numpy as np
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DATA, REPO, manifest
from tests.processes import service_process
from tests.text import SENTENCES, normalize

pytestmark = pytest.mark.fleet

TTS_WS = "ws://127.0.0.1:8005/ws/tts"
SPEECH = "http://127.0.0.1:8005"
CLONING_TTS_PORT, CLONING_CATALOG_PORT = 8286, 8287
F5_STAND_IN = REPO / "tests" / "stand_ins"  # f5_tts.api.F5TTS that returns the reference it is handed


async def synthesize(ws: websockets.ClientConnection, request: dict) -> tuple[bytes, dict]:
    await ws.send(json.dumps(request))
    pcm = b""
    while True:
        message = await ws.recv()
        if isinstance(message, bytes):
            pcm += message
            continue
        return pcm, json.loads(message)


def wav_24k(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(pcm)
    return out.getvalue()


@pytest.mark.parametrize("language", sorted(SENTENCES))
async def test_every_language_streams_speech(fleet: str, language: str) -> None:
    async with websockets.connect(TTS_WS) as ws:
        pcm, end = await synthesize(ws, {"target_text": SENTENCES[language], "language": language})
    assert end["type"] == "end", end
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    duration = samples.size / 24000
    assert end["duration"] == pytest.approx(duration, abs=1e-3)
    assert 0.8 < duration < 12, duration  # one or two short sentences
    assert np.sqrt(np.mean(samples**2)) > 0.02  # speech, not silence
    voiced = np.mean(np.abs(samples) > 0.02)
    assert voiced > 0.3, voiced


@pytest.mark.parametrize("language", ["en", "ja"])
async def test_asr_hears_what_tts_said(gateway: httpx.AsyncClient, language: str) -> None:
    async with websockets.connect(TTS_WS) as ws:
        pcm, end = await synthesize(ws, {"target_text": SENTENCES[language], "language": language})
    assert end["type"] == "end"
    response = await gateway.post("/transcribe", files={"file": ("tts.wav", wav_24k(pcm))}, data={"language": language})
    assert response.status_code == 200, response.text
    heard = response.json()["text"]
    if language == "ja":  # no spaces: character error rate
        reference = SENTENCES["ja"].replace("。", "")
        error = jiwer.cer(reference, heard.replace("。", "").replace("、", "").replace(" ", ""))
    else:
        error = jiwer.wer(normalize(SENTENCES["en"]), normalize(heard))
    assert error < 0.10, (heard, error)


async def test_speaker_resolution_and_errors_on_one_connection(fleet: str) -> None:
    async with httpx.AsyncClient(base_url=SPEECH) as catalog:
        ja = (await catalog.get("/api/speakers", params={"language": "ja"})).json()["speakers"]
        kumo = next(s for s in ja if s["voice"] == "jm_kumo")
        joe = next(s for s in (await catalog.get("/api/speakers")).json()["speakers"] if s["engine"] == "piper")
        created = await catalog.post(
            "/api/collections", json={"name": "tts test", "user_id": "tester", "langs": {"ja": kumo["id"]}}
        )
        collection = created.json()["id"]
    async with websockets.connect(TTS_WS) as ws:
        _, end = await synthesize(ws, {"target_text": "こんにちは。", "collection_id": collection, "language": "ja"})
        assert end["speaker_id"] == kumo["id"]  # the collection's speaker for ja
        _, end = await synthesize(ws, {"target_text": "Hello.", "speaker_id": joe["id"]})
        assert end["speaker_id"] == joe["id"]  # speaker_id wins; its language is used
        _, end = await synthesize(ws, {"target_text": "Xin chào."})
        assert end["type"] == "end"  # default language vi, its default speaker
        errors = {
            "empty": {"target_text": "   "},
            "too long": {"target_text": "a " * 5000, "language": "en"},
            "unknown speaker": {"target_text": "hi", "speaker_id": "00000000-0000-4000-8000-000000000000"},
            "unknown collection": {"target_text": "hi", "collection_id": "00000000-0000-4000-8000-000000000000"},
            "wrong language": {"target_text": "hi", "speaker_id": joe["id"], "language": "fr"},
            "bad language": {"target_text": "hi", "language": "de"},
            "no text": {"language": "en"},
        }
        for case, request in errors.items():
            pcm, event = await synthesize(ws, request)
            assert event["type"] == "error" and event["message"], (case, event)
            assert pcm == b"", case
        await ws.send("not json")
        assert json.loads(await ws.recv())["type"] == "error"
        pcm, end = await synthesize(ws, {"target_text": "Still here.", "language": "en"})
        assert end["type"] == "end" and len(pcm) > 24000  # the connection survived every error


async def test_openai_speech_returns_24k_wav(fleet: str) -> None:
    async with httpx.AsyncClient(base_url=SPEECH, timeout=60) as client:
        response = await client.post(
            "/v1/audio/speech",
            json={"model": "tts-1", "input": "Good morning.", "language": "en", "response_format": "wav"},
        )
        assert response.status_code == 200, response.text
        with wave.open(io.BytesIO(response.content)) as wav:  # streamed: the header's length is "unknown"
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
            assert len(wav.readframes(wav.getnframes())) > 2 * 12000
        bad = await client.post("/v1/audio/speech", json={"input": "", "language": "en"})
        assert bad.status_code == 400 and "empty" in bad.json()["error"]["message"]  # OpenAI's shape on /v1/


async def test_cloning_speaker_without_f5_weights_gets_a_clear_error(fleet: str) -> None:
    jfk = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
    form = {"name": "Clone", "language": "en", "user_id": "tts-test", "reference_text": "And so my fellow Americans."}
    async with httpx.AsyncClient(base_url=SPEECH, timeout=30) as catalog:
        created = await catalog.post("/api/speakers", data=form, files={"reference_audio": jfk})
        assert created.status_code == 200, created.text
        speaker = created.json()
        recording = f"/internal/speakers/{speaker['id']}/reference-audio"
        assert (await catalog.get(recording)).status_code == 404  # for the fleet only: the gateway does not route it
        assert (await catalog.get(f"http://127.0.0.1:8206{recording}")).status_code == 200  # catalog's own port
    async with websockets.connect(TTS_WS) as ws:
        pcm, event = await synthesize(ws, {"target_text": "Hello.", "speaker_id": speaker["id"]})
    assert pcm == b"" and event["type"] == "error"
    assert "F5TTS_MODEL is not set" in event["message"]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when it was never counted)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def pcm_samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32)


def wav_samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getframerate() == 24000
        return pcm_samples(wav.readframes(wav.getnframes()))


class CloningFleet:
    """Our own catalog and tts processes, each with its own DATA_DIR: tts cannot see catalog's files."""

    def __init__(self, catalog: httpx.AsyncClient, tts_url: str) -> None:
        self.catalog = catalog
        self.tts_url = tts_url

    async def says(self, speaker_id: str, recording: np.ndarray) -> float:
        """Has tts say a sentence in the clone's voice, checks it spoke `recording` (the stand-in returns the
        recording it is handed) and returns how many times catalog served a recording meanwhile."""
        before = await self.fetches()
        async with websockets.connect(self.tts_url.replace("http", "ws") + "/ws/tts", max_size=None) as ws:
            pcm, end = await synthesize(ws, {"target_text": "Hello there.", "speaker_id": speaker_id})
        assert end["type"] == "end" and end["speaker_id"] == speaker_id, end
        assert pcm_samples(pcm).size == recording.size and np.abs(pcm_samples(pcm) - recording).max() <= 1
        return await self.fetches() - before

    async def served(self, speaker_id: str) -> np.ndarray:
        response = await self.catalog.get(f"/internal/speakers/{speaker_id}/reference-audio")
        return wav_samples(response.content)

    async def fetches(self) -> float:
        text = (await self.catalog.get("/metrics")).text
        route = "/internal/speakers/{speaker_id}/reference-audio"
        return metric(text, "http_requests_total", method="GET", route=route, status="200")

    async def lookups(self, result: str) -> float:
        async with httpx.AsyncClient(base_url=self.tts_url) as tts:
            text = (await tts.get("/metrics")).text
        return metric(text, "tts_reference_audio_lookups_total", result=result)

    async def cached_bytes(self) -> float:
        async with httpx.AsyncClient(base_url=self.tts_url) as tts:
            return metric((await tts.get("/metrics")).text, "tts_reference_audio_cached_bytes")

    async def replace(self, speaker_id: str, clip: str) -> None:
        upload = (Path(clip).name, (DATA / clip).read_bytes())
        data = {"user_id": "tts-test", "reference_text": manifest()[clip]}
        response = await self.catalog.put(
            f"/api/speakers/{speaker_id}/reference-audio", data=data, files={"reference_audio": upload}
        )
        assert response.status_code == 200, response.text


async def check_cloning_through_catalog(fleet: CloningFleet) -> str:
    """The clone speaks its reference as catalog serves it; again from the cache; a new recording is fetched."""
    jfk = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
    form = {"name": "Clone", "language": "en", "user_id": "tts-test", "reference_text": manifest()["asr/en_jfk.flac"]}
    created = await fleet.catalog.post("/api/speakers", data=form, files={"reference_audio": jfk})
    assert created.status_code == 200, created.text
    speaker = created.json()["id"]
    first = await fleet.served(speaker)
    assert await fleet.says(speaker, first) == 1  # asked of catalog
    assert await fleet.says(speaker, first) == 0  # from tts's cache
    assert (await fleet.lookups("fetched"), await fleet.lookups("hit")) == (1, 1)
    await fleet.replace(speaker, "asr/en_jfk.flac")  # updated_at moves, the recording is the same one
    assert await fleet.says(speaker, first) == 0  # revalidated: catalog answered 304
    assert await fleet.lookups("revalidated") == 1
    await fleet.replace(speaker, "asr/en_LJ050-0131.wav")
    changed = await fleet.served(speaker)
    assert changed.size != first.size
    assert await fleet.says(speaker, changed) == 1  # the new recording, fetched again
    assert await fleet.lookups("fetched") == 2
    return speaker


async def check_cache_is_bounded(fleet: CloningFleet, speaker: str) -> None:
    """The cache has room for one of the two recordings: the second speaker's pushes the first out."""
    jfk = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
    form = {"name": "Second", "language": "en", "user_id": "tts-test", "reference_text": manifest()["asr/en_jfk.flac"]}
    second = (await fleet.catalog.post("/api/speakers", data=form, files={"reference_audio": jfk})).json()["id"]
    recordings = {s: await fleet.served(s) for s in (speaker, second)}
    assert await fleet.says(second, recordings[second]) == 1
    assert await fleet.says(speaker, recordings[speaker]) == 1  # dropped when the second came in
    assert await fleet.says(speaker, recordings[speaker]) == 0
    wav = await fleet.catalog.get(f"/internal/speakers/{speaker}/reference-audio")
    assert await fleet.cached_bytes() == len(wav.content)  # the one kept


async def test_cloning_speakers_get_their_recording_from_catalog_over_http(tmp_path: Path) -> None:
    checkpoint = tmp_path / "f5-stand-in.pt"
    checkpoint.write_bytes(b"not real weights")
    catalog_url = f"http://127.0.0.1:{CLONING_CATALOG_PORT}"
    tts_env = {
        "CATALOG_URL": catalog_url,
        "CATALOG_CACHE_S": "0",  # every request asks catalog for the speaker: a change is seen at once
        "F5TTS_MODEL": str(checkpoint),
        "TTS_REFERENCE_CACHE_MB": "0.8",  # JFK's (0.53 MB) and LJ's (0.37 MB) recordings do not fit together
        "PYTHONPATH": os.pathsep.join(filter(None, [str(F5_STAND_IN), os.environ.get("PYTHONPATH")])),
    }
    tts_dir = tmp_path / "tts"
    with service_process("services.tts.main:app", CLONING_TTS_PORT, tts_dir, timeout=120, **tts_env) as tts_url:
        with service_process("services.catalog.main:app", CLONING_CATALOG_PORT, tmp_path / "catalog"):
            async with httpx.AsyncClient(base_url=catalog_url, timeout=30) as catalog:
                fleet = CloningFleet(catalog, tts_url)
                speaker = await check_cloning_through_catalog(fleet)
                await check_cache_is_bounded(fleet, speaker)
                async with websockets.connect(tts_url.replace("http", "ws") + "/ws/tts") as ws:
                    _, end = await synthesize(ws, {"target_text": "Hello.", "language": "en"})
                assert end["type"] == "end"  # built-in speakers need no recording
        assert not list(tts_dir.rglob("*.wav"))  # tts kept the recordings in memory only
        async with httpx.AsyncClient(base_url=tts_url, timeout=60) as client:
            response = await client.post("/v1/audio/speech", json={"input": "Hello.", "voice": speaker})
        assert response.status_code == 503, response.text
        error = response.json()["error"]  # OpenAI's shape on /v1/
        assert error["code"] == "busy" and "catalog is unreachable" in error["message"]
        assert int(response.headers["Retry-After"]) > 0
