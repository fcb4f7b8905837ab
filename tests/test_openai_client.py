"""The fleet as a drop-in for OpenAI clients, driven through the official `openai` package only (no
hand-built requests): speech in every format decodes to the right length and is heard back, word
timestamps, streamed transcripts, translation, models.list() and the client's error classes."""

import io
from collections.abc import AsyncIterator, Iterator

import av
import httpx
import jiwer
import numpy as np
import openai
import pytest

from services.asr.transcriber import DecodeRequest
from services.common.audio import decode_audio, to_pcm16, wav_bytes
from services.common.openai_errors import openai_error
from services.tts.encoding import encoded
from services.tts.settings import KUMO
from tests.conftest import DATA
from tests.text import normalize

MAIN = "http://127.0.0.1:8124/v1"  # asr (transcriptions, translations, models) and tts
SPEECH = "http://127.0.0.1:8005/v1"  # tts (speech, models)
SENTENCE = "The quick brown fox jumps over the lazy dog. Then it runs back home."
JOE = "76581fa4-824a-596c-b397-1c5b7c1af673"  # the built-in Piper English speaker, the English default
JFK = DATA / "asr" / "en_jfk.flac"
FRENCH = DATA / "multilingual" / "fr_stp_human_allume_toutes_les_lumieres.wav"
FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
PCM_BYTES_PER_S = 48_000  # 24 kHz int16 mono


@pytest.fixture(scope="module")
def main(fleet: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=MAIN, api_key="unused", timeout=120, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def speech(fleet: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=SPEECH, api_key="unused", timeout=120, max_retries=0) as client:
        yield client


def decoded_seconds(data: bytes, response_format: str) -> float:
    if response_format == "pcm":
        return len(data) / PCM_BYTES_PER_S
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def heard(client: openai.OpenAI, data: bytes, response_format: str) -> str:
    if response_format == "pcm":
        data, response_format = wav_bytes(data, 24_000), "wav"
    text = client.audio.transcriptions.create(
        model="whisper-1", file=(f"speech.{response_format}", data), language="en", response_format="text"
    )
    return normalize(text)


def test_speech_in_every_format_decodes_to_its_length_and_is_heard_back(
    main: openai.OpenAI, speech: openai.OpenAI
) -> None:
    spoken = {
        fmt: speech.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=fmt)
        for fmt in FORMATS
    }
    assert spoken["mp3"].response.headers["content-type"] == "audio/mpeg"
    assert spoken["opus"].content[:4] == b"OggS" and spoken["flac"].content[:4] == b"fLaC"
    assert spoken["wav"].content[:4] == b"RIFF"
    lengths = {fmt: decoded_seconds(response.content, fmt) for fmt, response in spoken.items()}
    for fmt, seconds in lengths.items():  # Piper's durations vary a little from call to call; codecs pad
        assert seconds == pytest.approx(lengths["pcm"], rel=0.15, abs=0.15), lengths
        assert 2.5 < seconds < 8, lengths
        error = jiwer.wer(normalize(SENTENCE), heard(main, spoken[fmt].content, fmt))
        assert error <= 0.2, (fmt, error)


def test_speech_streams_in_pieces_as_it_is_synthesised(speech: openai.OpenAI) -> None:
    text = " ".join([SENTENCE] * 3)
    with speech.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=text, response_format="mp3"
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        chunks = list(response.iter_bytes())
    assert len(chunks) > 3
    assert decoded_seconds(b"".join(chunks), "mp3") > 3 * 2.5


def test_speed_stretches_the_speech_and_voices_map_to_catalog_speakers(speech: openai.OpenAI) -> None:
    raw = speech.audio.speech.with_raw_response
    normal = raw.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm")
    fast = raw.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm", speed=2.0)
    slow = raw.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm", speed=0.5)
    seconds = {name: len(r.content) / PCM_BYTES_PER_S for name, r in (("1", normal), ("2", fast), ("0.5", slow))}
    assert seconds["2"] == pytest.approx(seconds["1"] / 2, rel=0.2), seconds
    assert seconds["0.5"] == pytest.approx(seconds["1"] * 2, rel=0.2), seconds
    assert normal.headers["x-speaker-id"] == JOE  # alloy in English: the language's default
    onyx = raw.create(model="tts-1", voice="onyx", input="こんにちは。", extra_body={"language": "ja"})
    assert onyx.headers["x-speaker-id"] == KUMO  # the default map's male voice in Japanese
    speakers = httpx.get("http://127.0.0.1:8005/api/speakers").json()["speakers"]
    french = next(s for s in speakers if s["language"] == "fr")
    by_id = raw.create(model="tts-1", voice=french["id"], input="Bonjour.", response_format="wav")
    assert by_id.headers["x-speaker-id"] == french["id"]  # a catalog speaker id is a voice too


def test_word_timestamps_are_monotonic_and_inside_their_segments(main: openai.OpenAI) -> None:
    result = main.audio.transcriptions.create(
        model="whisper-1",
        file=JFK.open("rb"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.words and result.segments
    assert normalize(" ".join(w.word for w in result.words)) == normalize(result.text)
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.start <= w.end for w in result.words)
    for word in result.words:
        assert any(s.start - 0.01 <= word.start and word.end <= s.end + 0.01 for s in result.segments), word
    words_only = main.audio.transcriptions.create(
        model="whisper-1", file=JFK.open("rb"), response_format="verbose_json", timestamp_granularities=["word"]
    )
    assert words_only.words and not words_only.segments  # OpenAI's: only the granularities asked for


def test_a_prompt_and_a_temperature_are_accepted_and_the_text_streams_as_events(main: openai.OpenAI) -> None:
    prompted = main.audio.transcriptions.create(
        model="whisper-1", file=JFK.open("rb"), prompt="President Kennedy's inaugural address.", temperature=0.2
    )
    assert "ask not what your country" in normalize(prompted.text)
    events = list(main.audio.transcriptions.create(model="whisper-1", file=JFK.open("rb"), stream=True))
    assert [e.type for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1) and len(events) > 1
    assert events[-1].type == "transcript.text.done"
    assert "".join(e.delta for e in events[:-1]) == events[-1].text
    assert "ask not what your country" in normalize(events[-1].text)


def test_a_long_file_streams_a_delta_per_piece(main: openai.OpenAI) -> None:
    """Two clips 25 s apart are two pieces (a Whisper window each): each one's text is its own delta."""
    jfk = decode_audio(JFK.read_bytes(), max_duration_s=60)
    lj = decode_audio((DATA / "asr" / "en_LJ050-0131.wav").read_bytes(), max_duration_s=60)
    audio = np.concatenate([jfk, np.zeros(16_000 * 25, np.float32), lj])
    events = list(
        main.audio.transcriptions.create(
            model="whisper-1", file=("long.wav", wav_bytes(to_pcm16(audio), 16_000)), language="en", stream=True
        )
    )
    deltas = [normalize(e.delta) for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) == 2 and "ask not what your country" in deltas[0] and "formal review" in deltas[1], deltas
    assert normalize(events[-1].text) == " ".join(deltas)


def test_the_french_clip_is_translated_into_english(main: openai.OpenAI) -> None:
    english = main.audio.translations.create(model="whisper-1", file=FRENCH.open("rb"))
    assert "light" in normalize(english.text) and "lumi" not in normalize(english.text), english.text
    subtitles = main.audio.translations.create(model="whisper-1", file=FRENCH.open("rb"), response_format="srt")
    assert subtitles.startswith("1\n00:00:0") and "light" in subtitles.lower()


def test_models_list_names_what_readyz_reports(main: openai.OpenAI, speech: openai.OpenAI) -> None:
    asr = httpx.get("http://127.0.0.1:8201/readyz").json()
    assert {m.id for m in main.models.list()} == {"whisper-1", asr["model"]}
    tts = httpx.get("http://127.0.0.1:8202/readyz").json()["engines"]
    loaded = {engine["model"] for engine in tts.values() if "load_seconds" in engine}
    assert loaded and {m.id for m in speech.models.list()} == {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", *loaded}
    assert main.models.retrieve(asr["model"]).id == asr["model"] and speech.models.retrieve("tts-1").id == "tts-1"
    with pytest.raises(openai.NotFoundError) as raised:
        main.models.retrieve("tts-1")  # :8124's models are the ASR's
    assert raised.value.body["code"] == "not_found"


@pytest.mark.parametrize(
    "request_",
    [
        {"input": ""},
        {"input": "Hello.", "voice": "nobody"},
        {"input": "Hello.", "speed": 10},
        {"input": "Hello.", "response_format": "ogg"},
        {"input": "Hello.", "instructions": "Speak cheerfully."},
        {"input": "Hello.", "extra_body": {"language": "de"}},
    ],
)
def test_bad_speech_requests_are_the_clients_bad_request(speech: openai.OpenAI, request_: dict) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        speech.audio.speech.create(model="tts-1", **{"voice": "alloy", **request_})
    assert raised.value.body["message"] and raised.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "request_",
    [
        {"file": ("noise.wav", b"not audio at all")},
        {"file": ("jfk.flac", JFK.read_bytes()), "language": "xx"},
        {"file": ("jfk.flac", JFK.read_bytes()), "response_format": "docx"},
        {"file": ("jfk.flac", JFK.read_bytes()), "response_format": "srt", "timestamp_granularities": ["word"]},
        {"file": ("jfk.flac", JFK.read_bytes()), "temperature": 3},
    ],
)
def test_bad_transcription_requests_are_the_clients_bad_request(main: openai.OpenAI, request_: dict) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        main.audio.transcriptions.create(model="whisper-1", **request_)
    assert raised.value.body["message"] and raised.value.body["code"] == "invalid_input"


def test_a_bad_translation_request_is_the_clients_bad_request(main: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        main.audio.translations.create(model="whisper-1", file=("noise.wav", b"not audio at all"))
    assert "could not decode" in raised.value.body["message"]


async def _frames(pcm: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


@pytest.mark.parametrize("response_format", FORMATS)
async def test_the_encoders_keep_the_length_and_speed_stretches_it(response_format: str) -> None:
    """Two seconds of a tone in 200 ms frames, as the service streams them: each format decodes to two seconds
    (codec padding aside), more than one chunk comes out, and speed 2 halves it."""
    tone = (np.sin(np.arange(48_000) * 2 * np.pi * 440 / 24_000) * 8000).astype("<i2").tobytes()
    chunks = [chunk async for chunk in encoded(_frames(tone, 9600), response_format)]
    assert len(chunks) > 1
    assert decoded_seconds(b"".join(chunks), response_format) == pytest.approx(2.0, abs=0.08)
    fast = b"".join([chunk async for chunk in encoded(_frames(tone, 9600), response_format, speed=2.0)])
    assert decoded_seconds(fast, response_format) == pytest.approx(1.0, abs=0.08)


def test_fleet_errors_become_openais_shape_and_status() -> None:
    body = {
        "detail": "body.speed: too fast",
        "code": "invalid_input",
        "request_id": "r1",
        "errors": [{"loc": ["body", "speed"], "msg": "too fast", "type": "less_than_equal"}],
    }
    assert openai_error(422, body) == (
        400,
        {
            "error": {
                "message": "body.speed: too fast",
                "type": "invalid_request_error",
                "param": "speed",
                "code": "invalid_input",
                "request_id": "r1",
            }
        },
    )
    status, busy = openai_error(503, {"detail": "busy", "code": "busy", "request_id": "r2"})
    assert status == 503 and busy["error"]["type"] == "server_error" and busy["error"]["param"] is None
    assert openai_error(401, {"detail": "no key", "code": "unauthorized"})[1]["error"]["type"] == "authentication_error"


def test_a_decode_request_is_passed_to_whisper_as_its_options() -> None:
    assert DecodeRequest().options() == {"task": "transcribe", "initial_prompt": None}
    translate = DecodeRequest("translate", "Names: Kennedy.", 0.4).options()
    assert translate == {"task": "translate", "initial_prompt": "Names: Kennedy.", "temperature": 0.4}
