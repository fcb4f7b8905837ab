"""Schemathesis over every service's OpenAPI (issue 20): each HTTP operation of asr, tts, voice,
catalog, voicechat and webrtc gets Schemathesis's coverage phase (boundary and missing values, wrong
types, other methods and media types, each once) and MAX_EXAMPLES generated valid and as many invalid
requests, and no response may be a server error.

The services run in this process (tests/in_process.py), each one built for its test with its real
models loaded (Whisper base, Piper and Kokoro, Resemblyzer, AASIST when ANTISPOOF_MODEL is set, as
`make test` sets it) and `/readyz` at 200 before the first request. Requests go through the app's own
TestClient, on its event loop (Schemathesis's ASGI transport would start a second lifespan on a loop
of its own). tts and webrtc ask a real catalog, served on a free loopback port. So that requests get
past the first check, a file field now and then carries real audio and an id field an id that exists.

What counts as a failure: any status >= 500 but the fleet's documented 503s (README, docs/ARCHITECTURE.md
"Models, budgets and busy", docs/VOICE.md, docs/WEBRTC.md), in the fleet's error shape
(services/common/errors.py: a `detail` that says why, a `code`):
- `model_unavailable`: a model that is not configured (anti-spoofing without ANTISPOOF_MODEL, an SSAP
  profiler that is not set), or one still loading (not here: the test waits for /readyz);
- `busy` with `retryable: true`: a full queue, or a service it needs that cannot be asked (webrtc's
  voice-chat orchestrator, which does not run here; a catalog);
- `/readyz`'s 503 `not_ready`.
Any other 503, and every 500, 501, 502 or 504, fails the test with Schemathesis's report and a curl
command that reproduces it. WebSocket routes are not in OpenAPI: tests/test_ws_fuzz.py sends them
hostile frames. Schemathesis's pytest plugin is off (pyproject.toml): this file drives Schemathesis.
"""

import asyncio
import io
import json
import os
import socket
import threading
import wave
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import requests
import schemathesis
import urllib3
import uvicorn
from aiortc import RTCPeerConnection
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.schemas import APIOperation

from services.common.errors import ModelUnavailable, NotFound, ServiceBusy, install_error_handlers
from services.common.openai_errors import OpenAIErrorMiddleware
from tests.audio_files import read_mono, wav_bytes
from tests.conftest import DATA, wait_until
from tests.databases import fresh_postgres_database
from tests.in_process import ServiceApp, build_service_app, running_service

BASE_URL = "http://testserver"  # the TestClient's own
# Generated requests per operation and mode: the whole file runs in about two minutes. A deeper run:
# SCHEMATHESIS_MAX_EXAMPLES=500 pytest tests/test_openapi_fuzz.py
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
DOCUMENTED_503_CODES = {"model_unavailable", "busy"}
# voice and catalog on SQLite (the default) and on PostgreSQL, which refuses text SQLite stores (NUL)
SERVICES = ("asr", "tts", "voice", "voice-postgres", "catalog", "catalog-postgres", "voicechat", "webrtc")
CATALOG_CLIENTS = {"tts", "webrtc"}  # they look speakers up in a catalog, served here on a port of its own
ENV = {"webrtc": {"VOICECHAT_WS_URL": "ws://127.0.0.1:8297/ws/voice-chat"}}  # nothing listens there
SUMMARY = Path(__file__).resolve().parents[1] / "build" / "schemathesis.json"
OCTET_STREAM = "application/octet-stream"


def audio_samples() -> list[bytes | None]:
    """What a file field of a generated request carries, besides Schemathesis's own bytes (None): real
    speech (two clips), silence, a 10 ms blip, 8 kHz stereo, a WAV cut off after its header, no bytes."""
    speech = read_mono((DATA / "asr/sb_spk2_snt2.wav").read_bytes())
    stereo = io.BytesIO()
    with wave.open(stereo, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(16_000, np.int16).tobytes())
    silence = wav_bytes(np.zeros(8000, np.float32))
    blip = wav_bytes(np.full(160, 0.5, np.float32))
    long_speech = (DATA / "asr/en_one_two_three.wav").read_bytes()  # 2.7 s at 44.1 kHz: long enough to clone
    return [None, wav_bytes(speech), long_speech, silence, blip, stereo.getvalue(), silence[:60], b""]


class InProcessAdapter(requests.adapters.HTTPAdapter):
    """`requests` (Schemathesis's transport) sending each prepared request through a TestClient."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        answer = self.client.request(request.method, request.url, content=body, headers=dict(request.headers))
        headers = [(name, value) for name, value in answer.headers.multi_items() if name != "content-encoding"]
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=headers,
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


def documented_503(path: str, response: Response) -> bool:
    """The fleet's 503 contract: a model not (yet) available or a full queue, said in the error shape
    (on /v1/ routes OpenAI's, services/common/openai_errors.py: no `retryable`, Retry-After says it)."""
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except json.JSONDecodeError:
        return False
    if path == "/readyz":
        return body.get("status") == "not_ready"
    if isinstance(body.get("error"), dict) and path.startswith("/v1/"):
        code, message = body["error"].get("code"), body["error"].get("message")
        retryable = any(name.lower() == "retry-after" for name in response.headers)
    else:
        code, message, retryable = body.get("code"), body.get("detail"), body.get("retryable") is True
    if code == "busy" and not retryable:
        return False
    return code in DOCUMENTED_503_CODES and isinstance(message, str) and bool(message)


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a thread (its lifespan runs); its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "the catalog")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, list[str]]]]:
    """The service's app, its models loaded (no 503 for a model still loading), and real values for
    some fields (name → values): speakers and collections that exist, a registered voice print. tts
    and webrtc get a catalog of their own, so that speakers resolve."""
    name, _, database = request.param.partition("-")
    with ExitStack() as stack:
        env = dict(ENV.get(name, {}))
        if database == "postgres":
            env["DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        if name in CATALOG_CLIENTS:
            (tmp_path / "catalog").mkdir()
            env["CATALOG_URL"] = stack.enter_context(served(build_service_app("catalog", tmp_path / "catalog")))
        client = stack.enter_context(running_service(name, tmp_path / name, **env))
        ready = client.get("/readyz")
        assert ready.status_code == 200, f"{name} is not ready: {ready.text}"
        yield client, known_values(name, client, env.get("CATALOG_URL"))


def known_values(name: str, client: TestClient, catalog_url: str | None) -> dict[str, list[str]]:
    """Ids a generated request may carry instead of random ones, so that requests get past the lookup:
    built-in speakers and a voice-cloning one, a collection, a registered voice print."""
    if name == "catalog":
        speakers = [s["id"] for s in client.get("/api/speakers").json()["speakers"]]
        langs = {s["language"]: s["id"] for s in client.get("/api/speakers").json()["speakers"] if s["default"]}
        collection = client.post("/api/collections", json={"name": "Fuzz", "user_id": "default", "langs": langs})
        assert collection.status_code == 200, collection.text
        return {"speaker_id": [*speakers, cloning_speaker(client)], "collection_id": [collection.json()["id"]]}
    if name in CATALOG_CLIENTS:
        with httpx.Client(base_url=catalog_url) as catalog:
            speakers = [s["id"] for s in catalog.get("/api/speakers").json()["speakers"]]
            speakers.append(cloning_speaker(catalog))
        if name == "tts":
            return {"voice": speakers}
        # an offer a browser would send, so that offers get past the SDP check
        return {"sdp": [asyncio.run(offer_sdp())], "speaker_id": speakers}
    if name == "voice":
        speech = (DATA / "asr/sb_spk2_snt2.wav").read_bytes()
        form = {"name": "Fuzz", "description": "a voice print for the fuzzed requests"}
        registered = client.post("/voice/register", files={"file": ("a.wav", speech)}, data=form)
        assert registered.status_code == 200, registered.text
        return {"speaker_id": [registered.json()["speaker_id"]]}
    return {}


def cloning_speaker(catalog: httpx.Client) -> str:
    """A voice-cloning (F5-TTS) speaker added to the catalog: its id."""
    form = {"name": "Fuzz", "language": "en", "reference_text": "One, two, three.", "user_id": "fuzz"}
    recording = ("ref.wav", (DATA / "asr/en_one_two_three.wav").read_bytes())
    added = catalog.post("/api/speakers", data=form, files={"reference_audio": recording})
    assert added.status_code == 200, added.text
    return added.json()["id"]


async def offer_sdp() -> str:
    peer = RTCPeerConnection()
    peer.addTransceiver("audio", direction="sendrecv")
    await peer.setLocalDescription(await peer.createOffer())
    await peer.close()
    return peer.localDescription.sdp


def file_fields(api: dict, operation: APIOperation) -> dict[str, bool]:
    """The operation's multipart file fields: name → whether it is a list of files."""
    body = api["paths"][operation.path][operation.method.lower()].get("requestBody", {})
    schema = body.get("content", {}).get("multipart/form-data", {}).get("schema", {})
    if "$ref" in schema:
        schema = api["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    fields = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("contentMediaType") == OCTET_STREAM:
            fields[name] = False
        elif prop.get("items", {}).get("contentMediaType") == OCTET_STREAM:
            fields[name] = True
    return fields


def fuzz(
    operation: APIOperation,
    mode: GenerationMode,
    session: requests.Session,
    files: dict[str, bool],
    audio: list[bytes | None],
    known: dict[str, list[str]],
    statuses: Counter,
) -> None:
    """MAX_EXAMPLES generated requests to the operation (valid ones, or ones the schema rejects); a file
    field carries one of audio_samples() or the generated bytes, a field in `known` now and then a real id."""

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure in CI is one a developer can rerun
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each request to a model costs time
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case, data: st.DataObject) -> None:
        body = case.body if isinstance(case.body, dict) else {}
        for name, many in files.items():
            if name in body and (sample := data.draw(st.sampled_from(audio))) is not None:
                body[name] = [sample] if many else sample
        for fields in (body, case.path_parameters or {}):
            for name, values in known.items():
                if name in fields and values and data.draw(st.booleans()):
                    fields[name] = data.draw(st.sampled_from(values))
        send(case, session, statuses)

    one()


def send(case: schemathesis.Case, session: requests.Session, statuses: Counter) -> None:
    """The request, its status counted; a status >= 500 but the documented 503s fails."""
    response = case.call(session=session, base_url=BASE_URL)
    statuses[f"{case.operation.label} {response.status_code}"] += 1
    if not documented_503(case.path, response):
        case.validate_response(response, checks=[not_a_server_error])


def coverage(operation: APIOperation, session: requests.Session, statuses: Counter) -> None:
    """Schemathesis's coverage phase: boundary and missing values of every field, values of the wrong
    type, the other HTTP methods on the path; each request once."""
    config = HypothesisTestConfig(
        project=operation.schema.config,
        modes=[HypothesisTestMode.COVERAGE],
        settings=settings(
            deadline=None, database=None, phases=[Phase.explicit], suppress_health_check=list(HealthCheck)
        ),
    )
    create_test(operation=operation, test_func=lambda case: send(case, session, statuses), config=config)()


def fuzz_all(
    client: TestClient, known: dict[str, list[str]], audio: list[bytes | None]
) -> tuple[list[str], Counter, dict[str, str]]:
    """Every operation of the app's OpenAPI, valid and invalid requests: the operations, the statuses
    per operation, and the failures (operation → Schemathesis's report)."""
    document = client.get("/openapi.json").json()
    api = schemathesis.openapi.from_dict(document)
    # deletions last, so that the other operations find the known speakers and collections
    operations = sorted((result.ok() for result in api.get_all_operations()), key=lambda op: op.method == "delete")
    statuses: Counter = Counter()
    failures = {}
    with requests.Session() as session:
        session.mount("http://", InProcessAdapter(client))
        for operation in operations:
            try:
                coverage(operation, session, statuses)
            except (FailureGroup, Exception) as exc:  # a 5xx (Schemathesis's report, curl), a request not sent
                failures[f"{operation.label}, coverage cases"] = str(exc)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz(operation, mode, session, file_fields(document, operation), audio, known, statuses)
                except Unsatisfiable:  # no request breaks this schema (no parameters, a free-form path string)
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (FailureGroup, Exception) as exc:
                    failures[f"{operation.label}, {mode.value} cases"] = str(exc)
    return [operation.label for operation in operations], statuses, failures


@pytest.mark.slow
def test_no_server_errors(service: tuple[TestClient, dict[str, list[str]]], request: pytest.FixtureRequest) -> None:
    client, known = service
    operations, statuses, failures = fuzz_all(client, known, audio_samples())
    record(request.node.callspec.params["service"], operations, statuses, len(failures))
    assert {"GET /healthz", "GET /readyz"} <= set(operations)
    assert not failures, "\n\n".join(f"{where}: {report}" for where, report in failures.items())


def test_the_check_fails_on_a_500_and_an_undocumented_503_only() -> None:
    """The harness itself, on an app of its own: a crash and a bare 503 are failures; a model that is
    loading and a full queue (the fleet's 503s, in OpenAI's shape on /v1/) and a 4xx are not."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(OpenAIErrorMiddleware)  # /v1/ errors in OpenAI's shape, as on tts and asr

    @app.get("/crash")
    async def crash(n: int = 0) -> dict:
        raise RuntimeError(f"a bug at {n}")

    @app.get("/loading")
    async def loading() -> dict:
        raise ModelUnavailable("the model is still loading; retry shortly")

    @app.get("/bare-503")
    async def bare_503() -> JSONResponse:
        return JSONResponse({"detail": "down"}, status_code=503)

    @app.get("/v1/busy")
    async def busy() -> dict:
        raise ServiceBusy("the queue is full; retry shortly")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        raise NotFound(f"no item {item_id}")

    with TestClient(app, raise_server_exceptions=False) as client:
        operations, statuses, failures = fuzz_all(client, {}, [None])
    assert set(operations) == {"GET /crash", "GET /loading", "GET /bare-503", "GET /v1/busy", "GET /items/{item_id}"}
    crashes = {f"GET /crash, {phase} cases" for phase in ("coverage", "positive", "negative")}
    assert set(failures) == crashes | {"GET /bare-503, coverage cases", "GET /bare-503, positive cases"}, failures
    assert "Server error" in failures["GET /crash, positive cases"], failures
    assert statuses["GET /loading 503"] > 0 and statuses["GET /v1/busy 503"] > 0, statuses
    assert statuses["GET /items/{item_id} 404"] > 0, statuses


@pytest.mark.parametrize("service", ["catalog", "voice"])
def test_a_nul_character_is_a_422_on_postgresql(service_app: ServiceApp, tmp_path: Path, service: str) -> None:
    """Found by the fuzzing above on PostgreSQL (SQLite stores NUL): text with a NUL character in a
    query, a JSON body or a form was the database's 500; it is the fleet's 422 that says why."""
    with fresh_postgres_database() as url, service_app(service, tmp_path, DATABASE_URL=url) as client:
        if service == "catalog":
            responses = [
                client.get("/api/speakers", params={"user_id": "a\x00b"}),
                client.get("/api/collections", params={"user_id": "\x00"}),
                client.post("/api/collections", json={"name": "a\x00b", "user_id": "default"}),
            ]
        else:
            speech = (DATA / "asr/sb_spk2_snt2.wav").read_bytes()
            form = {"name": "a\x00b", "description": "a voice print"}
            responses = [client.post("/voice/register", files={"file": ("a.wav", speech)}, data=form)]
        for response in responses:
            assert response.status_code == 422, response.text
            body = response.json()
            assert body["code"] == "invalid_input" and "NUL" in body["detail"], body
        assert client.get("/readyz").status_code == 200  # and the service goes on


def test_a_kanji_kokoro_cannot_read_is_a_client_error(service_app: ServiceApp, tmp_path: Path) -> None:
    """Found by the fuzzing above: Japanese text with a kanji OpenJTalk's dictionary lacks (U+2A566) made
    pyopenjtalk ask Sudachi's dictionary, which is not installed: a 500. It is the client's 400 (OpenAI's
    shape on /v1/) that says so, and the next request is spoken."""
    (tmp_path / "catalog").mkdir()
    with (
        served(build_service_app("catalog", tmp_path / "catalog")) as catalog_url,
        service_app("tts", tmp_path / "tts", CATALOG_URL=catalog_url) as client,
    ):
        response = client.post("/v1/audio/speech", json={"input": "\U0002a566です。", "language": "ja"})
        assert response.status_code == 400, response.text
        assert "rare kanji" in response.json()["error"]["message"], response.text
        spoken = client.post("/v1/audio/speech", json={"input": "吉野家です。", "language": "ja"})
        assert spoken.status_code == 200 and len(spoken.content) > 1000, spoken.text


def record(name: str, operations: list[str], statuses: Counter, failures: int) -> None:
    """The service's figures into build/schemathesis.json (docs/SECURITY.md quotes them)."""
    figures = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    figures[name] = {
        "operations": operations,
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "failing_operations": failures,
    }
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(figures, indent=2) + "\n")
