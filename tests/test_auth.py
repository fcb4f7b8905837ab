"""API keys and the auth modes with the catalog's real database (SQLite and PostgreSQL): keys made by the CLI
and the admin routes, 401/403, revocation, WebSocket keys, the service token, a service that verifies keys
through a real catalog process, and what the logs never hold."""

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from services.catalog import keys as keys_cli
from services.common.auth import ANONYMOUS, Identity, find_key, parse_scopes, take_query_key
from services.common.auth_client import HttpKeyVerifier
from services.common.db import async_database_url, create_engine
from services.common.errors import Forbidden
from services.common.logging import configure_logging
from tests.in_process import ServiceApp
from tests.processes import service_process

ADMIN_KEY = "vf_admin0000001_" + "A" * 43
CATALOG_PORT = 8351  # a catalog process of these tests' own


def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> str:
    """`python -m services.catalog.keys ...` on the database of `env`; its output."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert keys_cli.main(list(args)) == 0
    return capsys.readouterr().out


def created_key(output: str) -> str:
    return output.splitlines()[0]


def stored_keys(data_dir: Path, env: dict[str, str]) -> list[tuple]:
    async def read() -> list[tuple]:
        url = async_database_url(env.get("DATABASE_URL"), data_dir / "catalog" / "catalog.db")
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(text("SELECT id, user_id, hash FROM api_keys"))).all())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_made_by_the_cli_opens_the_catalog_until_revoked(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str], capsys, monkeypatch
) -> None:
    env = {"DATA_DIR": str(tmp_path), **database_env}
    key = created_key(cli(capsys, monkeypatch, env, "create-key", "--user", "alice", "--scopes", "all"))
    ((key_id, user, stored_hash),) = stored_keys(tmp_path, env)
    assert key.startswith(f"vf_{key_id}_") and user == "alice"
    assert key not in stored_hash and key.split("_", 2)[2] not in stored_hash  # only the hash is kept
    with service_app("catalog", tmp_path, AUTH_REQUIRED="true", **database_env) as client:
        refused = client.get("/api/speakers")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["code"] == "unauthorized" and refused.json()["request_id"]
        assert client.get("/api/speakers", headers=bearer(key)).status_code == 200
        assert client.get("/api/speakers", params={"api_key": key}).status_code == 200
        wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        for bad in (wrong, "vf_nothere00000_" + "x" * 43, "unused", ""):
            assert client.get("/api/speakers", headers=bearer(bad)).status_code == 401, bad
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        document = client.get("/openapi.json")
        assert document.status_code == 200 and document.json()["security"] == [{"apiKey": []}]
        assert document.json()["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
        listed = cli(capsys, monkeypatch, env, "list-keys")
        assert key_id in listed and "last used: never" not in listed and key not in listed
        assert "revoked" in cli(capsys, monkeypatch, env, "revoke-key", key_id)
        assert client.get("/api/speakers", headers=bearer(key)).status_code == 401  # the catalog checks at once


def test_admin_routes_scopes_and_the_configured_admin_key(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str]
) -> None:
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN_KEY, **database_env}
    with service_app("catalog", tmp_path, **env) as client:
        made = client.post("/api/keys", headers=bearer(ADMIN_KEY), json={"user_id": "bob", "scopes": ["tts"]})
        assert made.status_code == 200, made.text
        bob = made.json()
        assert (bob["user_id"], bob["scopes"], bob["last_used"], bob["revoked_at"]) == ("bob", ["tts"], None, None)
        outside = client.get("/api/speakers", headers=bearer(bob["key"]))
        assert outside.status_code == 403 and outside.json()["code"] == "forbidden"
        catalog_key = client.post(
            "/api/keys", headers=bearer(ADMIN_KEY), json={"user_id": "carol", "scopes": ["catalog", "chat"]}
        ).json()["key"]
        assert client.get("/api/speakers", headers=bearer(catalog_key)).status_code == 200
        assert client.get("/api/keys", headers=bearer(catalog_key)).status_code == 403  # not an admin key
        bad_scope = client.post("/api/keys", headers=bearer(ADMIN_KEY), json={"user_id": "x", "scopes": ["root"]})
        assert bad_scope.status_code == 422
        listing = client.get("/api/keys", headers=bearer(ADMIN_KEY))
        assert listing.status_code == 200
        by_user = {entry["user_id"]: entry for entry in listing.json()["keys"]}
        assert set(by_user) == {"admin", "bob", "carol"} and by_user["admin"]["scopes"] == ["admin"]
        assert by_user["carol"]["last_used"] is not None and by_user["bob"]["last_used"] is not None
        assert bob["key"] not in listing.text and "hash" not in listing.text  # no secrets in a listing
        revoked = client.delete(f"/api/keys/{bob['id']}", headers=bearer(ADMIN_KEY))
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert client.get("/api/speakers", headers=bearer(bob["key"])).status_code == 401
        assert client.delete("/api/keys/nothere", headers=bearer(ADMIN_KEY)).status_code == 404
    with service_app("catalog", tmp_path, **env) as client:  # the admin key is ensured once, not again
        keys = client.get("/api/keys", headers=bearer(ADMIN_KEY)).json()["keys"]
        assert [k["user_id"] for k in keys].count("admin") == 1


def test_with_auth_off_the_reference_requests_work_verbatim(service_app: ServiceApp, tmp_path: Path) -> None:
    with service_app("catalog", tmp_path) as client:
        speakers = client.get("/api/speakers", params={"language": "en"})
        assert speakers.status_code == 200
        en = speakers.json()["speakers"][0]["id"]
        body = {"name": "Mine", "user_id": "long", "description": "", "langs": {"en": en}}
        assert client.post("/api/collections", json=body).status_code == 200
        assert client.get("/api/speakers", headers=bearer("unused")).status_code == 200  # keys are ignored
        assert client.get("/api/speakers", params={"api_key": "whatever"}).status_code == 200
        assert "security" not in client.get("/openapi.json").json()  # nothing to authorise


def test_identity_rules() -> None:
    alice = Identity("alice", parse_scopes("tts"), key="vf_x", authenticated=True)
    admin = Identity("root", parse_scopes("admin"), key="vf_y", authenticated=True)
    assert ANONYMOUS.owner(None) == "default" and ANONYMOUS.owner("bob") == "bob"
    assert ANONYMOUS.can_write("bob") and ANONYMOUS.visible_owners() is None and ANONYMOUS.has("admin")
    assert alice.owner(None) == alice.owner("alice") == "alice"
    for other in ("bob", "default"):
        with pytest.raises(Forbidden):
            alice.owner(other)
    assert admin.owner("bob") == "bob" and admin.has("asr") and admin.can_write("bob")
    assert alice.has("tts") and not alice.has("asr") and not alice.can_write("bob") and alice.can_write("alice")
    assert alice.visible_owners() == ("alice", "default")
    assert "vf_x" not in repr(alice)  # keys are never in a repr (nor in a log line made from one)
    assert parse_scopes("all") == {"asr", "voice", "tts", "catalog", "chat"}
    with pytest.raises(ValueError, match="unknown scopes"):
        parse_scopes("asr,root")
    scope = {"query_string": b"language=en&api_key=vf_secret&user_id=a%20b"}
    assert take_query_key(scope) == "vf_secret" and scope["query_string"] == b"language=en&user_id=a+b"


def test_where_a_key_is_found() -> None:
    def scope(headers: dict[str, str], query: bytes = b"", protocols: tuple[str, ...] = ()) -> dict:
        raw = [(name.encode(), value.encode()) for name, value in headers.items()]
        return {"type": "websocket", "headers": raw, "query_string": query, "subprotocols": list(protocols)}

    both = scope({"authorization": "Bearer vf_header"}, b"api_key=vf_query", ("voicefleet", "voicefleet.key.vf_proto"))
    assert find_key(both) == "vf_header" and both["query_string"] == b""  # the query key is taken out anyway
    assert find_key(scope({}, b"api_key=vf_query", ("voicefleet.key.vf_proto",))) == "vf_query"
    assert find_key(scope({}, b"", ("voicefleet", "voicefleet.key.vf_proto"))) == "vf_proto"
    assert find_key(scope({"authorization": "Basic dTpw"})) is None  # only Bearer carries a key
    assert find_key(scope({"authorization": "bearer  vf_lower "})) == "vf_lower"


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("catalog")


@pytest.fixture(scope="module")
def catalog_process(catalog_dir: Path) -> Iterator[str]:
    """A real catalog (uvicorn process, auth on, an admin key), for the services that ask it over HTTP; one
    for the module (each test makes keys of its own)."""
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN_KEY, "LOG_JSON": "false"}
    with service_process("services.catalog.main:app", CATALOG_PORT, catalog_dir, **env) as url:
        yield url


def new_key(catalog: str, user: str, scopes: list[str]) -> dict:
    made = httpx.post(f"{catalog}/api/keys", headers=bearer(ADMIN_KEY), json={"user_id": user, "scopes": scopes})
    assert made.status_code == 200, made.text
    return made.json()


def verifying_env(catalog: str, **env: str) -> dict[str, str]:
    return {"AUTH_REQUIRED": "true", "AUTH_VERIFY_URL": f"{catalog}/internal/auth/verify", **env}


def test_a_service_verifies_keys_with_the_catalog_and_honours_revocation(
    service_app: ServiceApp, tmp_path: Path, catalog_process: str
) -> None:
    chat = new_key(catalog_process, "dave", ["chat"])
    asr_only = new_key(catalog_process, "erin", ["asr"])
    with service_app("webrtc", tmp_path / "webrtc", **verifying_env(catalog_process, AUTH_CACHE_S="1")) as client:
        assert client.get("/ice-servers").status_code == 401
        assert client.get("/ice-servers", headers=bearer(chat["key"])).status_code == 200
        assert client.get("/ice-servers", headers=bearer(asr_only["key"])).status_code == 403
        assert client.post("/offer", json={}).status_code == 401  # WebRTC signalling needs the key too
        assert client.post("/ice", json={}).status_code == 401
        assert client.get("/webrtc-demo").status_code == 200  # the page itself is open
        httpx.delete(f"{catalog_process}/api/keys/{chat['id']}", headers=bearer(ADMIN_KEY)).raise_for_status()
        assert client.get("/ice-servers", headers=bearer(chat["key"])).status_code == 200  # cached for 1 s
        time.sleep(1.2)
        assert client.get("/ice-servers", headers=bearer(chat["key"])).status_code == 401


def test_the_service_token_lifts_the_scope_check_for_the_fleet(
    service_app: ServiceApp, tmp_path: Path, catalog_process: str
) -> None:
    asr_only = new_key(catalog_process, "erin", ["asr"])["key"]
    env = verifying_env(catalog_process, SERVICE_TOKEN="fleet-token-123")
    with service_app("webrtc", tmp_path / "webrtc", **env) as client:
        assert client.get("/ice-servers", headers=bearer(asr_only)).status_code == 403
        fleet = {**bearer(asr_only), "X-Service-Token": "fleet-token-123"}
        assert client.get("/ice-servers", headers=fleet).status_code == 200
        forged = {**bearer(asr_only), "X-Service-Token": "guessed"}
        assert client.get("/ice-servers", headers=forged).status_code == 401
        assert client.get("/ice-servers", headers={"X-Service-Token": "fleet-token-123"}).status_code == 401


def test_an_unreachable_catalog_refuses_with_503(service_app: ServiceApp, tmp_path: Path) -> None:
    env = verifying_env("http://127.0.0.1:8352")  # nothing listens there
    with service_app("webrtc", tmp_path, **env) as client:
        refused = client.get("/ice-servers", headers=bearer("vf_abcdef012345_" + "k" * 43))
        assert refused.status_code == 503 and refused.json()["code"] == "auth_unavailable"
        assert refused.headers["retry-after"]
        assert client.get("/ice-servers", headers=bearer("malformed")).status_code == 401  # never asked about


def test_websocket_keys_by_query_and_subprotocol(service_app: ServiceApp, tmp_path: Path, catalog_process: str) -> None:
    key = new_key(catalog_process, "frank", ["chat"])["key"]
    with service_app("voicechat", tmp_path / "voicechat", **verifying_env(catalog_process)) as client:
        with client.websocket_connect("/ws/voice-chat") as ws:  # no key: an error event, then 1008
            event = json.loads(ws.receive_text())
            assert (event["type"], event["code"]) == ("error", "unauthorized")
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1008
        for connect in (
            lambda: client.websocket_connect(f"/ws/voice-chat?api_key={key}"),
            lambda: client.websocket_connect("/ws/voice-chat", subprotocols=["voicefleet", f"voicefleet.key.{key}"]),
        ):
            with connect() as ws:
                ws.send_text("not json")  # reaches the voice chat itself, which answers with its own error
                event = json.loads(ws.receive_text())
                assert event["source"] == "client" and "json" in event["message"].lower(), event
        with client.websocket_connect("/ws/voice-chat", subprotocols=["voicefleet", f"voicefleet.key.{key}"]) as ws:
            assert ws.accepted_subprotocol == "voicefleet"  # what a browser needs echoed


@pytest.mark.service  # a catalog process
def test_query_keys_never_reach_the_logs(catalog_dir: Path, catalog_process: str, capfd) -> None:
    key = new_key(catalog_process, "gina", ["catalog"])["key"]
    assert httpx.get(f"{catalog_process}/api/speakers", params={"api_key": key}).status_code == 200
    assert httpx.get(f"{catalog_process}/api/speakers", params={"api_key": key + "x"}).status_code == 401
    log = (catalog_dir / f"catalog-{CATALOG_PORT}.log").read_text()
    assert "GET /api/speakers HTTP/1.1" in log  # the access lines are there,
    assert key not in log and "api_key" not in log  # without the key (taken out of the query string)
    configure_logging("test")  # and any line that still holds one (say, a request refused before) is redacted
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", f"/api/speakers?api_key={key}&language=en", "1.1", 429)
    err = capfd.readouterr().err
    assert "/api/speakers?api_key=[redacted]&language=en" in err and key not in err


async def test_the_verifier_asks_once_for_requests_that_arrive_together_and_caches_the_answer() -> None:
    asked: list[str] = []
    release = asyncio.Event()

    async def catalog(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["key"])
        await release.wait()
        return httpx.Response(200, json={"key_id": "abcdef012345", "user_id": "hana", "scopes": ["tts", "root"]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(catalog))
    verifier = HttpKeyVerifier(http, "http://catalog/internal/auth/verify", cache_s=0.2)
    key = "vf_abcdef012345_" + "h" * 43
    waiting = [asyncio.create_task(verifier.verify(key)) for _ in range(20)]
    await asyncio.sleep(0.05)
    release.set()
    identities = await asyncio.gather(*waiting)
    assert len(asked) == 1 and {i.user_id for i in identities} == {"hana"}
    assert identities[0].scopes == {"tts"}  # a scope the fleet does not know is dropped
    await verifier.verify(key)
    assert len(asked) == 1  # cached
    await asyncio.sleep(0.25)
    await verifier.verify(key)
    assert len(asked) == 2  # asked again once AUTH_CACHE_S is over
    await verifier.close()
