"""No word lost in a stream: speech at normal and low levels (−30, −40, −48 dBFS RMS of the voiced
audio) streamed in real time through Traefik; the finals must hold the words the offline engine
(POST /transcribe of the original clip) hears, each word in one final only; partials show no loop."""

import asyncio

import httpx
import jiwer
import numpy as np
import pytest

from services.asr.short_context import looks_like_a_loop
from tests.audio_files import at_level, read_mono, wav_bytes
from tests.conftest import DATA, GATEWAY
from tests.streaming import stream
from tests.text import normalize

pytestmark = pytest.mark.fleet

URL = "ws://127.0.0.1:8124/ws/transcribe/vad?language=en"
RATE = 16_000
CLIPS = [
    "asr/sb_spk1_snt1.wav",
    "asr/sb_spk2_snt1.wav",
    "asr/en_jfk.flac",  # pauses inside sentences: turns of two words at the default silence_ms
    "asr/en_LJ050-0131.wav",
    "speaker/libri_testother_1998_1998-15444-0001.flac",
]
MIN_RECALL = 0.95


def recall(reference: str, hypothesis: str) -> float:
    """The share of the reference's words found, in order, in the hypothesis."""
    if not hypothesis:
        return 0.0
    return jiwer.process_words(reference, hypothesis).hits / len(reference.split())


@pytest.fixture(scope="module")
def offline() -> dict[str, str]:
    texts = {}
    with httpx.Client(base_url=GATEWAY, timeout=120) as client:
        for name in CLIPS:
            upload = {"file": ("clip.wav", wav_bytes(read_mono((DATA / name).read_bytes())), "audio/wav")}
            response = client.post("/transcribe", files=upload, data={"language": "en"})
            assert response.status_code == 200, response.text
            texts[name] = normalize(response.json()["text"])
    return texts


@pytest.mark.parametrize("dbfs", [None, -30, -40, -48])
async def test_finals_keep_every_word_at_every_level(fleet: str, offline: dict[str, str], dbfs: float | None) -> None:
    async def one(name: str):
        samples = read_mono((DATA / name).read_bytes())
        if dbfs is not None:
            samples = at_level(samples, dbfs)
        received, _ = await stream(URL, np.concatenate([samples, np.zeros(RATE, np.float32)]))
        return name, received

    results = await asyncio.gather(*(one(name) for name in CLIPS))
    hits = words = 0
    for name, received in results:
        finals = [normalize(text) for text in received.finals()]
        hypothesis = " ".join(f for f in finals if f)
        reference = offline[name]
        hits += recall(reference, hypothesis) * len(reference.split())
        words += len(reference.split())
        for before, after in zip(finals, finals[1:], strict=False):  # no word in two finals
            assert not (before and after and before.split()[-1] == after.split()[0]), (name, finals)
        assert not any(looks_like_a_loop(p) for p in received.partials()), (name, received.partials())
        assert recall(reference, hypothesis) >= 0.85, (name, dbfs, reference, finals)
    assert hits / words >= MIN_RECALL, (dbfs, hits / words)
