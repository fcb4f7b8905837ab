"""Tenancy (issue 20 item 3) through the real key check: a catalog process with API keys on (SQLite or
PostgreSQL) makes keys for alice, bob and an admin, and the catalog, tts, voice and voice chat each answer
what the key's user may see: alice's items are not found for bob (404, never a 403 that confirms an id),
shared items change only with the admin key, listings show the caller's and the shared. And the API
reference's own collection snippets with keys off."""

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import alembic.command
import alembic.config
import httpx
import numpy as np
import pytest
import sqlalchemy
from websockets.sync.server import ServerConnection, serve

from tests.audio_files import read_mono, wav_bytes
from tests.conftest import DATA, REPO, manifest, wait_until
from tests.in_process import ServiceApp
from tests.processes import service_process
from tests.streaming import audio_message
from tests.voice import clip, trials
from tests.webrtc_peer import CallerPeer
from tests.word_recall import load

pytestmark = pytest.mark.service  # apps in process, and a catalog process of this module's own
ADMIN_KEY = "vf_tenancyadm01_" + "T" * 43
CATALOG_PORT = 8361
F5_STAND_IN = REPO / "tests" / "stand_ins"  # f5_tts.api.F5TTS that returns the reference it is handed
JFK = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
JFK_TEXT = manifest()["asr/en_jfk.flac"]
OLD_PRINT = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Tenants:
    catalog: str
    alice: dict[str, str]  # headers with alice's key
    bob: dict[str, str]
    admin: dict[str, str]

    def env(self, **env: str) -> dict[str, str]:
        """Environment of a service that verifies keys with this catalog."""
        return {"AUTH_REQUIRED": "true", "AUTH_VERIFY_URL": f"{self.catalog}/internal/auth/verify", **env}


@contextmanager
def tenant_catalog(tmp_path: Path, **env: str) -> Iterator[Tenants]:
    settings = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN_KEY, "LOG_JSON": "false", **env}
    with service_process("services.catalog.main:app", CATALOG_PORT, tmp_path / "catalog", **settings) as url:
        keys = []
        for user in ("alice", "bob"):
            made = httpx.post(f"{url}/api/keys", headers=bearer(ADMIN_KEY), json={"user_id": user, "scopes": ["all"]})
            assert made.status_code == 200, made.text
            keys.append(bearer(made.json()["key"]))
        yield Tenants(url, *keys, bearer(ADMIN_KEY))


def cloning_speaker(http: httpx.Client, headers: dict[str, str], **form: str) -> dict:
    data = {"name": "Clone", "language": "en", "reference_text": JFK_TEXT, **form}
    made = http.post("/api/speakers", headers=headers, data=data, files={"reference_audio": JFK})
    assert made.status_code == 200, made.text
    return made.json()


def default_en(http: httpx.Client, headers: dict[str, str]) -> str:
    speakers = http.get("/api/speakers", headers=headers, params={"language": "en"}).json()["speakers"]
    return next(s["id"] for s in speakers if s["default"])


def test_catalog_items_belong_to_the_keys_user(tmp_path: Path, database_env: dict[str, str]) -> None:
    with tenant_catalog(tmp_path, **database_env) as t, httpx.Client(base_url=t.catalog, timeout=30) as http:
        assert http.get("/api/collections").status_code == 401
        voice = cloning_speaker(http, t.alice)
        assert voice["user_id"] == "alice"  # from the key; no user_id was sent
        mine = http.post("/api/collections", headers=t.alice, json={"name": "A", "langs": {"en": voice["id"]}}).json()
        assert mine["user_id"] == "alice"
        en = default_en(http, t.bob)
        shared = http.post("/api/collections", headers=t.admin, json={"name": "S", "user_id": "default"}).json()
        assert shared["user_id"] == "default"
        refused = {
            "bob routes to alice's speaker": http.post(
                "/api/collections", headers=t.bob, json={"name": "B", "langs": {"en": voice["id"]}}
            ),
            "bob acts for alice": http.post("/api/collections", headers=t.bob, json={"name": "B", "user_id": "alice"}),
            "bob creates a shared one": http.post(
                "/api/collections", headers=t.bob, json={"name": "B", "user_id": "default"}
            ),
            "bob lists alice's": http.get("/api/collections", headers=t.bob, params={"user_id": "alice"}),
        }
        assert [r.status_code for r in refused.values()] == [422, 403, 403, 403], {
            k: r.text for k, r in refused.items()
        }

        def names(headers: dict[str, str], **params: str) -> set[str]:
            return {
                c["name"] for c in http.get("/api/collections", headers=headers, params=params).json()["collections"]
            }

        assert names(t.alice) == {"A", "S"} and names(t.bob) == names(t.bob, user_id="default") == {"S"}
        assert names(t.admin, user_id="alice") == {"A", "S"}
        speakers = {
            who: http.get("/api/speakers", headers=h).json()["speakers"] for who, h in (("a", t.alice), ("b", t.bob))
        }
        assert voice["id"] in {s["id"] for s in speakers["a"]} and voice["id"] not in {s["id"] for s in speakers["b"]}
        assert en in {s["id"] for s in speakers["a"]} & {s["id"] for s in speakers["b"]}
        check_by_id(http, t, voice["id"], mine["id"])
        check_shared_items(http, t, shared["id"])
        assert http.put(f"/api/collections/{mine['id']}", headers=t.alice, json={"name": "A2"}).json()["name"] == "A2"
        assert http.delete(f"/api/collections/{mine['id']}", headers=t.alice).json() == {"status": "deleted"}
        assert http.delete(f"/api/speakers/{voice['id']}", headers=t.alice).json() == {"status": "deleted"}


def check_by_id(http: httpx.Client, t: Tenants, speaker_id: str, collection_id: str) -> None:
    """Alice's speaker and collection are not found for bob, on every route, public or the fleet's."""
    for path in (
        f"/api/speakers/{speaker_id}",
        f"/internal/speakers/{speaker_id}",
        f"/internal/speakers/{speaker_id}/reference-audio",
        f"/api/collections/{collection_id}",
        f"/internal/collections/{collection_id}",
    ):
        assert http.get(path, headers=t.alice).status_code == 200, path
        assert http.get(path, headers=t.bob).status_code == 404, path
        assert http.get(path, headers=t.admin).status_code == 200, path
    new_text = {"reference_text": JFK_TEXT}
    changes = [
        http.put(f"/api/collections/{collection_id}", headers=t.bob, json={"name": "mine now"}),
        http.delete(f"/api/collections/{collection_id}", headers=t.bob),
        http.delete(f"/api/speakers/{speaker_id}", headers=t.bob),
        http.put(
            f"/api/speakers/{speaker_id}/reference-audio", headers=t.bob, data=new_text, files={"reference_audio": JFK}
        ),
    ]
    assert [r.status_code for r in changes] == [404] * 4, [r.text for r in changes]


def check_shared_items(http: httpx.Client, t: Tenants, collection_id: str) -> None:
    """Shared (`default`) items: everyone reads them, only the admin key changes them; built-ins nobody."""
    path = f"/api/collections/{collection_id}"
    assert http.get(path, headers=t.bob).status_code == 200
    assert http.put(path, headers=t.bob, json={"name": "hijack"}).status_code == 403
    assert http.delete(path, headers=t.bob).status_code == 403
    assert http.put(path, headers=t.admin, json={"name": "S2"}).json()["name"] == "S2"
    voice = cloning_speaker(http, t.admin, user_id="default", name="Shared clone")
    assert voice["user_id"] == "default"
    assert http.get(f"/api/speakers/{voice['id']}", headers=t.bob).status_code == 200
    assert http.delete(f"/api/speakers/{voice['id']}", headers=t.bob).status_code == 403
    assert http.delete(f"/api/speakers/{voice['id']}", headers=t.admin).status_code == 200
    assert http.delete(f"/api/speakers/{default_en(http, t.admin)}", headers=t.admin).status_code == 403
    assert http.delete(path, headers=t.admin).status_code == 200


def synthesize(tts: httpx.Client, headers: dict[str, str], request: dict) -> tuple[int, dict]:
    """A /ws/tts request: the number of PCM bytes and the closing event."""
    with tts.websocket_connect("/ws/tts", headers=headers) as ws:
        ws.send_json(request)
        size = 0
        while True:
            message = ws.receive()
            if message.get("bytes") is not None:
                size += len(message["bytes"])
                continue
            return size, json.loads(message["text"])


def test_tts_speaks_only_the_callers_and_shared_speakers(
    service_app: ServiceApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(F5_STAND_IN))  # the F5-TTS engine loads in this process
    checkpoint = tmp_path / "f5-stand-in.pt"
    checkpoint.write_bytes(b"not real weights")
    with tenant_catalog(tmp_path) as t, httpx.Client(base_url=t.catalog, timeout=30) as http:
        voice = cloning_speaker(http, t.alice)["id"]
        body = {"name": "A", "langs": {"en": voice}}
        collection = http.post("/api/collections", headers=t.alice, json=body).json()["id"]
        env = t.env(CATALOG_URL=t.catalog, F5TTS_MODEL=str(checkpoint), CATALOG_CACHE_S="60")
        with service_app("tts", tmp_path / "tts", timeout=120, **env) as tts:
            assert tts.post("/v1/audio/speech", json={"input": "Hello.", "voice": voice}).status_code == 401
            spoken = tts.post("/v1/audio/speech", headers=t.alice, json={"input": "Hello.", "voice": voice})
            assert spoken.status_code == 200, spoken.text  # alice's clone: its recording now in tts's cache
            refused = tts.post("/v1/audio/speech", headers=t.bob, json={"input": "Hello.", "voice": voice})
            assert refused.status_code == 422 and f"unknown speaker_id {voice}" in refused.json()["detail"]
            for request, error in (
                ({"target_text": "Hello.", "speaker_id": voice}, f"unknown speaker_id {voice}"),
                (
                    {"target_text": "Hello.", "collection_id": collection, "language": "en"},
                    f"unknown collection_id {collection}",
                ),
            ):
                assert synthesize(tts, t.bob, request) == (0, {"type": "error", "message": error})
                size, end = synthesize(tts, t.alice, request)
                assert end["type"] == "end" and end["speaker_id"] == voice and size > 0, end
            size, end = synthesize(tts, t.bob, {"target_text": "Hello.", "language": "en"})  # shared speakers
            assert end["type"] == "end" and end["speaker_id"] == default_en(http, t.bob) and size > 0, end


def register(voice: httpx.Client, headers: dict[str, str], relative: str) -> str:
    form = {"name": "N", "description": "D"}
    made = voice.post("/voice/register", headers=headers, files={"file": clip(relative)}, data=form)
    assert made.status_code == 200, made.text
    return made.json()["speaker_id"]


def install_at_revision_0001(voice_dir: Path, relative: str) -> None:
    """A voice database at revision 0001 (no owners yet) holding one print of `relative`'s speaker, made by
    an older speaker model (so verifying re-embeds its stored reference)."""
    (voice_dir / "speakers").mkdir(parents=True)
    (voice_dir / "speakers" / f"{OLD_PRINT}.wav").write_bytes(wav_bytes(read_mono(clip(relative)[1])))
    engine = sqlalchemy.create_engine(f"sqlite:///{voice_dir / 'voice.db'}")
    config = alembic.config.Config()
    config.set_main_option("script_location", str(REPO / "services" / "voice" / "migrations"))
    config.attributes["version_table"] = "voice_alembic_version"
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic.command.upgrade(config, "0001")
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO voice_prints (id, name, description, embedding, dim, model_id, reference_path,"
                " speech_seconds, created_at) VALUES (:id, 'Old', 'before keys', :embedding, 1, 'an-older-model',"
                " :path, 3.0, '2026-01-02 03:04:05.000000')"
            ),
            {"id": OLD_PRINT, "embedding": bytes(4), "path": f"speakers/{OLD_PRINT}.wav"},
        )
    engine.dispose()


def test_voice_prints_belong_to_the_keys_user(service_app: ServiceApp, tmp_path: Path) -> None:
    enroll = sorted({t["enroll"] for t in trials()})
    probe = [("files", clip(enroll[0]))]
    install_at_revision_0001(tmp_path / "voice" / "voice", enroll[0])
    with tenant_catalog(tmp_path) as t, service_app("voice", tmp_path / "voice", **t.env()) as voice:
        assert voice.get("/voice/speakers").status_code == 401
        mine = register(voice, t.alice, enroll[0])

        def listed(headers: dict[str, str]) -> dict[str, str]:
            speakers = voice.get("/voice/speakers", headers=headers).json()["speakers"]
            return {s["speaker_id"]: s["user_id"] for s in speakers}

        assert listed(t.alice) == {OLD_PRINT: "default", mine: "alice"} and listed(t.bob) == {OLD_PRINT: "default"}
        refused = [
            voice.get(f"/voice/speakers/{mine}", headers=t.bob),
            voice.post(f"/voice/verify/{mine}", headers=t.bob, files=probe),
            voice.delete(f"/voice/speakers/{mine}", headers=t.bob),
        ]
        assert [r.status_code for r in refused] == [404] * 3, [r.text for r in refused]
        for print_id, headers in ((mine, t.alice), (OLD_PRINT, t.bob)):  # own, and shared (migrated to default)
            accepted = voice.post(f"/voice/verify/{print_id}", headers=headers, files=probe)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["results"][0]["verdict"] == "ACCEPT"
        assert voice.delete(f"/voice/speakers/{OLD_PRINT}", headers=t.bob).status_code == 403
        assert voice.delete(f"/voice/speakers/{OLD_PRINT}", headers=t.admin).status_code == 204
        assert voice.delete(f"/voice/speakers/{mine}", headers=t.alice).status_code == 204
        assert listed(t.alice) == {}


class HandshakeRecorder:
    """A WebSocket server in a thread that keeps the Authorization header of each handshake (and then
    closes: the session reconnects on its next audio)."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handle(self, connection: ServerConnection) -> None:
        self.authorizations.append(connection.request.headers.get("Authorization"))

    def close(self) -> None:
        self._server.shutdown()


def test_a_voice_chat_session_calls_the_configured_asr_with_its_key(service_app: ServiceApp, tmp_path: Path) -> None:
    configured, clients = HandshakeRecorder(), HandshakeRecorder()
    client_url = f"ws://127.0.0.1:{clients.port}/asr"
    try:
        with tenant_catalog(tmp_path) as t:
            env = t.env(ASR_WS_URL=f"ws://127.0.0.1:{configured.port}/asr", ALLOWED_URLS=json.dumps([client_url]))
            with service_app("voicechat", tmp_path / "voicechat", **env) as chat:
                for config, recorder in (({"type": "config"}, configured), ({"asr_ws_url": client_url}, clients)):
                    with chat.websocket_connect("/ws/voice-chat", headers=t.alice) as ws:
                        ws.send_json({"type": "config", **config})
                        assert ws.receive_json()["type"] == "ready"
                        wait_until(lambda r=recorder: r.authorizations, 10, "the session's ASR handshake")
    finally:
        configured.close()
        clients.close()
    assert configured.authorizations == [t.alice["Authorization"]]
    assert clients.authorizations == [None]  # a client's own URL never gets the key


def offer_sdp() -> str:
    """A real browser-like offer (audio and the chat DataChannel), from aiortc."""

    async def make() -> str:
        caller = CallerPeer()
        await caller.pc.setLocalDescription(await caller.pc.createOffer())
        sdp = caller.pc.localDescription.sdp
        await caller.close()
        return sdp

    return asyncio.run(make())


def test_a_webrtc_offer_gets_the_callers_speakers_and_passes_its_key_on(
    service_app: ServiceApp, tmp_path: Path
) -> None:
    chat = HandshakeRecorder()  # the voice chat: it closes at once, so the answer is a 503 after the handshake
    try:
        with tenant_catalog(tmp_path) as t, httpx.Client(base_url=t.catalog, timeout=30) as http:
            voice = cloning_speaker(http, t.alice)["id"]
            env = t.env(CATALOG_URL=t.catalog, VOICECHAT_WS_URL=f"ws://127.0.0.1:{chat.port}/ws/voice-chat")
            with service_app("webrtc", tmp_path / "webrtc", **env) as webrtc:
                offer = {"sdp": offer_sdp(), "type": "offer", "speaker_id": voice}
                refused = webrtc.post("/offer", headers=t.bob, json=offer)
                assert refused.status_code == 422 and f"unknown speaker_id {voice}" in refused.json()["detail"]
                assert chat.authorizations == []
                assert webrtc.post("/offer", headers=t.alice, json=offer).status_code == 503
    finally:
        chat.close()
    assert chat.authorizations == [t.alice["Authorization"]]


class ProfileRecorder(ThreadingHTTPServer):
    """A stand-in voice service: keeps the Authorization header of each POST /voice/profile and answers
    422 (too little voiced audio: no ssap event, no error)."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                recorder.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"detail": "too little voiced audio", "code": "invalid_input"}).encode()
                self.send_response(422)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_an_asr_stream_profiles_its_turns_with_the_callers_key(service_app: ServiceApp, tmp_path: Path) -> None:
    voice = ProfileRecorder()
    turn = np.concatenate([load("asr/sb_spk1_snt1.wav"), np.zeros(16_000, np.float32)])
    try:
        with (
            tenant_catalog(tmp_path) as t,
            service_app("asr", tmp_path / "asr", **t.env(VOICE_URL=voice.url)) as asr,
            asr.websocket_connect("/ws/transcribe/vad?ssap=true", headers=t.alice) as ws,
        ):
            for offset in range(0, turn.size, 1600):  # 100 ms chunks
                ws.send_text(audio_message(turn[offset : offset + 1600]))
            ws.send_text(json.dumps({"type": "end"}))
            events = []
            while (message := ws.receive())["type"] != "websocket.close":
                events.append(json.loads(message["text"]))
    finally:
        voice.shutdown()
    assert [e["type"] for e in events] and not [e for e in events if e["type"] == "error"], events
    assert voice.authorizations == [t.alice["Authorization"]]


def test_the_references_collection_snippets_work_with_keys_off(service_app: ServiceApp, tmp_path: Path) -> None:
    """POST, PUT and DELETE /api/collections exactly as the API reference's fetch calls send them: PUT and
    DELETE carry no user_id, and they find a collection made for a user as well as a shared one."""
    with service_app("catalog", tmp_path) as client:
        speakers = client.get("/api/speakers").json()["speakers"]  # the reference's default: the shared ones
        vi, en, fr = (
            next(s["id"] for s in speakers if s["language"] == lang and s["default"]) for lang in ("vi", "en", "fr")
        )
        for user in ("default", "long"):
            made = client.post(
                "/api/collections",
                headers={"Content-Type": "application/json"},
                content=json.dumps(
                    {
                        "name": "My Collection",
                        "user_id": user,
                        "description": "Multilang bot voice",
                        "langs": {"vi": vi, "en": en, "fr": fr},
                    }
                ),
            )
            assert made.status_code == 200, made.text
            assert (made.json()["name"], made.json()["user_id"]) == ("My Collection", user)
            collection = made.json()["id"]
            updated = client.put(
                f"/api/collections/{collection}",
                headers={"Content-Type": "application/json"},
                content=json.dumps({"name": "Updated Name", "langs": {"vi": vi, "en": en}}),
            )
            assert updated.status_code == 200, updated.text
            assert updated.json()["name"] == "Updated Name" and set(updated.json()["langs"]) == {"vi", "en"}
            assert updated.json()["user_id"] == user  # the owner stays
            listed = client.get("/api/collections", params={"user_id": user}).json()["collections"]
            assert [c["name"] for c in listed if c["id"] == collection] == ["Updated Name"]
            deleted = client.delete(f"/api/collections/{collection}")
            assert deleted.status_code == 200 and deleted.json() == {"status": "deleted"}
            assert client.get(f"/api/collections/{collection}").status_code == 404
