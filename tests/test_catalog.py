"""The catalog as a process: built-in speakers, collection CRUD, every validation error, ownership,
and data that survives a restart, on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import httpx
import pytest

from tests.processes import service_process
from tests.voice import fresh_postgres_database

PORT = 8297
LANGUAGES = {"vi", "en", "fr", "ja", "ko", "zh", "ru"}


def catalog_process(data_dir: Path, **env: str) -> AbstractContextManager[str]:
    return service_process("services.catalog.main:app", PORT, data_dir, **env)


@pytest.fixture(params=["sqlite", "postgres"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    database = fresh_postgres_database() if request.param == "postgres" else nullcontext(None)
    with database as url:
        yield {"DATABASE_URL": url} if url else {}


def default_speaker(client: httpx.Client, language: str) -> dict:
    speakers = client.get("/api/speakers", params={"language": language}).json()["speakers"]
    return next(s for s in speakers if s["default"])


def test_builtin_speakers_cover_every_language_with_one_default(tmp_path: Path) -> None:
    with catalog_process(tmp_path) as url, httpx.Client(base_url=url) as client:
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
    with catalog_process(tmp_path / "elsewhere") as url:  # same ids on another installation
        assert {s["id"] for s in httpx.get(f"{url}/api/speakers").json()["speakers"]} == builtin_ids


def test_collection_crud_survives_a_restart(tmp_path: Path, database_env: dict[str, str]) -> None:
    with catalog_process(tmp_path, **database_env) as url, httpx.Client(base_url=url) as client:
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

    with catalog_process(tmp_path, **database_env) as url, httpx.Client(base_url=url) as client:
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


def test_validation_and_ownership(tmp_path: Path) -> None:
    with catalog_process(tmp_path) as url, httpx.Client(base_url=url) as client:
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
