"""Tenancy (issue 20 item 3) through the real key check (tests/tenants.py: a catalog process with keys for
alice, bob and an admin, SQLite or PostgreSQL): the catalog, tts and voice answer each what the key's user
may see: alice's items are not found for bob (404, never a 403 that confirms an id), shared items change only
with the admin key, listings show the caller's and the shared. And the API reference's own collection
snippets with keys off."""

import json
from pathlib import Path

import alembic.command
import alembic.config
import httpx
import pytest
import sqlalchemy

from tests.audio_files import read_mono, wav_bytes
from tests.conftest import REPO
from tests.in_process import ServiceApp
from tests.tenants import JFK, JFK_TEXT, Tenants, cloning_speaker, default_en, tenant_catalog
from tests.voice import clip, trials

pytestmark = pytest.mark.service  # apps in process, and a catalog process of their own
F5_STAND_IN = REPO / "tests" / "stand_ins"  # f5_tts.api.F5TTS that returns the reference it is handed
OLD_PRINT = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


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
            assert refused.status_code == 400 and f"unknown speaker_id {voice}" in refused.json()["error"]["message"]
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
