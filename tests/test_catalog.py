"""The catalog's app in process: built-in speakers, collection CRUD, every validation error, ownership,
and data that survives a restart, on SQLite and on PostgreSQL."""

import io
import wave
from datetime import datetime
from pathlib import Path

import alembic.command
import alembic.config
import httpx
import numpy as np
import sqlalchemy

from tests.audio_files import wav_bytes
from tests.conftest import DATA, REPO, manifest
from tests.in_process import ServiceApp

LANGUAGES = {"vi", "en", "fr", "ja", "ko", "zh", "ru"}
OLD_SPEAKER = "3f0c1d2e-4b5a-4c6d-8e7f-90a1b2c3d4e5"
MANIFEST = manifest()
MANIFEST_JFK = MANIFEST["asr/en_jfk.flac"]


def default_speaker(client: httpx.Client, language: str) -> dict:
    speakers = client.get("/api/speakers", params={"language": language}).json()["speakers"]
    return next(s for s in speakers if s["default"])


def test_builtin_speakers_cover_every_language_with_one_default(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("catalog", tmp_path) as client:
        speakers = client.get("/api/speakers").json()["speakers"]
        assert {s["language"] for s in speakers} == LANGUAGES
        for language in LANGUAGES:
            assert sum(s["default"] for s in speakers if s["language"] == language) == 1, language
        assert all(s["user_id"] == "default" for s in speakers)
        joe = next(s for s in speakers if s["engine"] == "piper")
        assert (joe["language"], joe["voice"], joe["default"]) == ("en", "en_US-joe-medium", True)
        assert client.get(f"/api/speakers/{joe['id']}").json() == joe
        assert client.get("/api/speakers", params={"language": "xx"}).status_code == 422
        assert client.get("/api/speakers/not-a-uuid").status_code == 404
        builtin_ids = {s["id"] for s in speakers}
    with service_app("catalog", tmp_path / "elsewhere") as other:  # same ids on another installation
        assert {s["id"] for s in other.get("/api/speakers").json()["speakers"]} == builtin_ids


def test_collection_crud_survives_a_restart(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str]
) -> None:
    with service_app("catalog", tmp_path, **database_env) as client:
        en, ja, fr = (default_speaker(client, lang) for lang in ("en", "ja", "fr"))
        created = client.post(
            "/api/collections",
            json={
                "name": "My Collection",
                "user_id": "long",
                "description": "Multilang bot",
                "langs": {"en": en["id"], "ja": ja["id"]},
            },
        )
        assert created.status_code == 200, created.text
        body = created.json()
        collection_id = body["id"]
        assert (body["name"], body["user_id"], body["description"]) == ("My Collection", "long", "Multilang bot")
        assert body["langs"] == {"en": {"id": en["id"], "name": en["name"]}, "ja": {"id": ja["id"], "name": ja["name"]}}

        updated = client.put(
            f"/api/collections/{collection_id}",
            params={"user_id": "long"},
            json={"name": "Renamed", "langs": {"fr": fr["id"]}},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["langs"] == {"fr": {"id": fr["id"], "name": fr["name"]}}  # the whole map replaced
        assert updated.json()["description"] == "Multilang bot"  # untouched fields stay
        second = client.post("/api/collections", json={"name": "Second", "user_id": "long"}).json()

    with service_app("catalog", tmp_path, **database_env) as client:
        listed = client.get("/api/collections", params={"user_id": "long"}).json()["collections"]
        assert [c["name"] for c in listed] == ["Renamed", "Second"]
        assert client.get(f"/api/collections/{collection_id}", params={"user_id": "long"}).json()["langs"] == {
            "fr": {"id": fr["id"], "name": fr["name"]}
        }
        assert client.get("/api/collections", params={"user_id": "other"}).json()["collections"] == []
        deleted = client.delete(f"/api/collections/{second['id']}", params={"user_id": "long"})
        assert deleted.json() == {"status": "deleted"}
        assert client.get(f"/api/collections/{second['id']}", params={"user_id": "long"}).status_code == 404
        assert len(client.get("/api/collections", params={"user_id": "long"}).json()["collections"]) == 1


def test_validation_and_ownership(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("catalog", tmp_path) as client:
        en = default_speaker(client, "en")
        shared = client.post("/api/collections", json={"name": "Shared", "user_id": "default"}).json()["id"]
        mine = client.post("/api/collections", json={"name": "Mine", "user_id": "alice"}).json()["id"]
        unknown = "00000000-0000-4000-8000-000000000000"
        invalid = {
            "no name": client.post("/api/collections", json={"user_id": "alice"}),
            "blank name": client.post("/api/collections", json={"name": "  ", "user_id": "alice"}),
            "no user": client.post("/api/collections", json={"name": "x"}),
            "unknown language": client.post(
                "/api/collections", json={"name": "x", "user_id": "alice", "langs": {"de": en["id"]}}
            ),
            "unknown speaker": client.post(
                "/api/collections", json={"name": "x", "user_id": "alice", "langs": {"en": unknown}}
            ),
            "not a uuid": client.post(
                "/api/collections", json={"name": "x", "user_id": "alice", "langs": {"en": "joe"}}
            ),
            "wrong language": client.post(
                "/api/collections", json={"name": "x", "user_id": "alice", "langs": {"fr": en["id"]}}
            ),
            "unknown field": client.post("/api/collections", json={"name": "x", "user_id": "alice", "colour": "red"}),
            "bad json": client.post("/api/collections", content=b"{", headers={"content-type": "application/json"}),
            "bad update": client.put(
                f"/api/collections/{mine}", params={"user_id": "alice"}, json={"langs": {"xx": en["id"]}}
            ),
        }
        for case, response in invalid.items():
            assert response.status_code == 422, (case, response.status_code, response.text)
            assert response.json()["detail"], case
        assert "speaks en, not fr" in invalid["wrong language"].json()["detail"]
        for missing in (unknown, "nope"):
            assert client.get(f"/api/collections/{missing}").status_code == 404
            assert client.put(f"/api/collections/{missing}", json={"name": "x"}).status_code == 404
            assert client.delete(f"/api/collections/{missing}").status_code == 404
        # Another user neither sees nor changes alice's collection; shared ones are read-only to non-owners.
        assert client.get(f"/api/collections/{mine}", params={"user_id": "bob"}).status_code == 404
        assert client.delete(f"/api/collections/{mine}", params={"user_id": "bob"}).status_code == 404
        assert client.get(f"/api/collections/{shared}", params={"user_id": "bob"}).status_code == 200
        forbidden = client.put(f"/api/collections/{shared}", params={"user_id": "bob"}, json={"name": "hijack"})
        assert forbidden.status_code == 403 and "owner" in forbidden.json()["detail"]
        assert client.delete(f"/api/collections/{shared}", params={"user_id": "bob"}).status_code == 403
        assert client.get(f"/api/collections/{shared}").json()["name"] == "Shared"
        # Listing: the shared collection and the user's own, nobody else's.
        names = {c["name"] for c in client.get("/api/collections", params={"user_id": "bob"}).json()["collections"]}
        assert names == {"Shared"}


def test_users_add_and_remove_voice_cloning_speakers(service_app: ServiceApp, tmp_path: Path) -> None:
    jfk = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
    form = {"name": "My voice", "language": "en", "user_id": "alice", "reference_text": MANIFEST_JFK}
    with service_app("catalog", tmp_path) as client:
        created = client.post("/api/speakers", data=form, files={"reference_audio": jfk})
        assert created.status_code == 200, created.text
        speaker = created.json()
        assert (speaker["engine"], speaker["user_id"], speaker["reference_text"]) == ("f5tts", "alice", MANIFEST_JFK)
        stored = tmp_path / "catalog" / "reference_audio" / speaker["reference_audio"]
        with wave.open(str(stored)) as wav:
            assert (wav.getframerate(), wav.getnchannels()) == (24000, 1)
            assert abs(wav.getnframes() / 24000 - 11.0) < 0.1
        assert speaker["reference_audio"] == f"{speaker['id']}.wav"  # never the client's file name
        alice = {s["id"] for s in client.get("/api/speakers", params={"user_id": "alice"}).json()["speakers"]}
        shared = {s["id"] for s in client.get("/api/speakers").json()["speakers"]}
        assert speaker["id"] in alice and speaker["id"] not in shared

        one_second = ("short.wav", wav_bytes(np.zeros(16000, dtype=np.float32) + 0.1))
        bad = {
            "too short": client.post("/api/speakers", data=form, files={"reference_audio": one_second}),
            "not audio": client.post("/api/speakers", data=form, files={"reference_audio": ("x.wav", b"nope")}),
            "bad language": client.post(
                "/api/speakers", data={**form, "language": "de"}, files={"reference_audio": jfk}
            ),
            "no text": client.post(
                "/api/speakers",
                data={k: v for k, v in form.items() if k != "reference_text"},
                files={"reference_audio": jfk},
            ),
        }
        for case, response in bad.items():
            assert response.status_code == 422, (case, response.text)

        collection = client.post(
            "/api/collections", json={"name": "clone", "user_id": "alice", "langs": {"en": speaker["id"]}}
        ).json()
        in_use = client.delete(f"/api/speakers/{speaker['id']}", params={"user_id": "alice"})
        assert in_use.status_code == 409 and "clone" in in_use.json()["detail"]
        assert client.delete(f"/api/speakers/{speaker['id']}", params={"user_id": "bob"}).status_code == 404
        builtin = next(iter(shared))
        assert client.delete(f"/api/speakers/{builtin}", params={"user_id": "alice"}).status_code == 403
        client.delete(f"/api/collections/{collection['id']}", params={"user_id": "alice"})
        assert client.delete(f"/api/speakers/{speaker['id']}", params={"user_id": "alice"}).json() == {
            "status": "deleted"
        }
        assert not stored.exists()
        assert client.get(f"/api/speakers/{speaker['id']}").status_code == 404


def test_reference_recordings_are_served_to_the_fleet_and_replaced_by_their_owner(
    service_app: ServiceApp, tmp_path: Path
) -> None:
    jfk = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
    lj = ("lj.wav", (DATA / "asr" / "en_LJ050-0131.wav").read_bytes())
    form = {"name": "Mine", "language": "en", "user_id": "alice", "reference_text": MANIFEST_JFK}
    with service_app("catalog", tmp_path) as client:
        speaker = client.post("/api/speakers", data=form, files={"reference_audio": jfk}).json()
        path = f"/internal/speakers/{speaker['id']}/reference-audio"
        served = client.get(path)
        assert served.status_code == 200 and served.headers["content-type"] == "audio/wav"
        assert served.content == (tmp_path / "catalog" / "reference_audio" / speaker["reference_audio"]).read_bytes()
        etag = served.headers["ETag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        builtin = default_speaker(client, "en")
        for missing in (builtin["id"], "not-a-uuid", "..%2F..%2Fcatalog.db", "00000000-0000-4000-8000-000000000000"):
            assert client.get(f"/internal/speakers/{missing}/reference-audio").status_code == 404, missing

        replace = f"/api/speakers/{speaker['id']}/reference-audio"
        new_text = MANIFEST["asr/en_LJ050-0131.wav"]
        refused = {
            "not the owner": (404, {"user_id": "bob", "reference_text": new_text}, lj),
            "not audio": (422, {"user_id": "alice", "reference_text": new_text}, ("x.wav", b"nope")),
            "no text": (422, {"user_id": "alice"}, lj),
        }
        for case, (status, data, upload) in refused.items():
            assert client.put(replace, data=data, files={"reference_audio": upload}).status_code == status, case
        builtin_put = client.put(
            f"/api/speakers/{builtin['id']}/reference-audio",
            data={"user_id": "alice", "reference_text": new_text},
            files={"reference_audio": lj},
        )
        assert builtin_put.status_code == 403
        assert client.get(path).content == served.content  # refused replacements changed nothing

        replaced = client.put(
            replace, data={"user_id": "alice", "reference_text": new_text}, files={"reference_audio": lj}
        )
        assert replaced.status_code == 200, replaced.text
        after = replaced.json()
        assert after["reference_text"] == new_text and after["reference_audio"] != speaker["reference_audio"]
        assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(speaker["updated_at"])
        assert client.get(f"/api/speakers/{speaker['id']}").json() == after
        now_served = client.get(path, headers={"If-None-Match": etag})
        assert now_served.status_code == 200 and now_served.headers["ETag"] != etag
        with wave.open(io.BytesIO(now_served.content)) as wav:
            assert abs(wav.getnframes() / wav.getframerate() - 7.66) < 0.1  # the LJ clip, not JFK's 11 s
        assert [p.name for p in (tmp_path / "catalog" / "reference_audio").iterdir()] == [after["reference_audio"]]
        client.delete(f"/api/speakers/{speaker['id']}", params={"user_id": "alice"})
        assert client.get(path).status_code == 404


def test_speakers_made_before_updated_at_get_their_creation_time(service_app: ServiceApp, tmp_path: Path) -> None:
    """An installation at revision 0001 is migrated on start; its speakers' updated_at is their created_at."""
    database = tmp_path / "catalog" / "catalog.db"
    database.parent.mkdir(parents=True)
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    config = alembic.config.Config()
    config.set_main_option("script_location", str(REPO / "services" / "catalog" / "migrations"))
    config.attributes["version_table"] = "catalog_alembic_version"
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic.command.upgrade(config, "0001")
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO speakers (id, name, language, user_id, engine, voice, reference_audio, reference_text,"
                " is_default, builtin, created_at) VALUES (:id, 'Old', 'en', 'alice', 'f5tts', 'clone', :file,"
                " 'old words', 0, 0, '2026-01-02 03:04:05.000000')"
            ),
            {"id": OLD_SPEAKER, "file": f"{OLD_SPEAKER}.wav"},
        )
    engine.dispose()
    with service_app("catalog", tmp_path) as client:
        old = client.get(f"/api/speakers/{OLD_SPEAKER}").json()
        assert old["updated_at"].startswith("2026-01-02T03:04:05"), old
        assert client.get(f"/internal/speakers/{OLD_SPEAKER}/reference-audio").status_code == 404  # no file
