"""Nothing lost on a crash: stored audio is written under a temporary name, fsynced and renamed before its
row commits; a failed commit leaves no file, a failed write no row; a delete commits the row first, and the
file a crash leaves behind is removed at the next start (a row whose file is gone is kept and counted in
/readyz). The gateway resends a request only when no replica received it. Real failures throughout: the
database refuses the row (a trigger; on PostgreSQL at COMMIT), os.replace or os.fsync raises, a stand-in
replica drops a POST it has read, a port refuses connections."""

import asyncio
import os
import socket
import sqlite3
import stat
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.common import durable
from tests.conftest import DATA, manifest
from tests.gateway import gateway_process
from tests.in_process import ServiceApp
from tests.voice import clip

REFERENCE = "speaker/libri_testother_1998_1998-15444-0000.flac"
GATEWAY = {"main": 8344, "bridge": 8345, "speech": 8346, "ping": 8347}
OLD = 1200.0  # seconds: older than durable.ORPHAN_MIN_AGE_S


# --- the database, failing for real --------------------------------------------------------------------------


def run_sql(database_env: dict[str, str], sqlite_file: Path, *statements: str) -> None:
    url = database_env.get("DATABASE_URL")
    if url is None:
        with sqlite3.connect(sqlite_file) as connection:
            for statement in statements:
                connection.execute(statement)
        return

    async def run() -> None:
        connection = await asyncpg.connect(url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def refuse_rows(database_env: dict[str, str], sqlite_file: Path, table: str, change: str = "INSERT") -> None:
    """From now on the database refuses every `change` (INSERT, UPDATE) to `table`: on PostgreSQL when the
    transaction commits (a deferred constraint trigger), on SQLite at the statement (it has no deferred ones)."""
    if "DATABASE_URL" in database_env:
        run_sql(
            database_env,
            sqlite_file,
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            f"CREATE CONSTRAINT TRIGGER refuse AFTER {change} ON {table} DEFERRABLE INITIALLY DEFERRED"
            " FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    else:
        trigger = f"CREATE TRIGGER refuse BEFORE {change} ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        run_sql(database_env, sqlite_file, trigger)


def accept_rows(database_env: dict[str, str], sqlite_file: Path, table: str) -> None:
    if "DATABASE_URL" in database_env:
        run_sql(database_env, sqlite_file, f"DROP TRIGGER refuse ON {table}", "DROP FUNCTION refuse()")
    else:
        run_sql(database_env, sqlite_file, "DROP TRIGGER refuse")


def failing(*_: object) -> None:
    raise OSError(5, "Input/output error (the test's)")


def aged(path: Path) -> Path:
    then = time.time() - OLD
    os.utime(path, (then, then))
    return path


# --- the durable write and the start-up check, on a real file system --------------------------------------------


def test_a_write_fsyncs_the_file_then_renames_it_then_fsyncs_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        os, "fsync", lambda fd: events.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode))) or real_fsync(fd)
    )
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", Path(b).name)) or real_replace(a, b))
    durable.write_durably(tmp_path / "a.wav", b"whole")
    assert events == [("fsync", False), ("replace", "a.wav"), ("fsync", True)]
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"] and (tmp_path / "a.wav").read_bytes() == b"whole"


@pytest.mark.parametrize("breaks", ["fsync", "replace"])
def test_an_interrupted_write_leaves_the_old_file_whole_and_no_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breaks: str
) -> None:
    target = tmp_path / "a.wav"
    durable.write_durably(target, b"old and whole")
    monkeypatch.setattr(os, breaks, failing)
    with pytest.raises(OSError, match="the test's"):
        durable.write_durably(target, b"new" * 1000)
    with pytest.raises(OSError, match="the test's"):
        durable.write_durably(tmp_path / "b.wav", b"never")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"] and target.read_bytes() == b"old and whole"


def test_reconcile_removes_old_orphans_keeps_young_ones_and_reports_missing_files(tmp_path: Path) -> None:
    for name in ("named.wav", "young.wav", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    aged(tmp_path / "notes.txt")
    abandoned = tmp_path / ".named.wav.0123456789ab.partial"
    for name in ("orphan.wav", abandoned.name):
        (tmp_path / name).write_bytes(b"x")
        aged(tmp_path / name)
    found = durable.reconcile(tmp_path, ["named.wav", "gone.wav"], ".wav")
    assert sorted(found.removed) == [abandoned.name, "orphan.wav"]
    assert found.kept_young == ["young.wav"] and found.missing == ["gone.wav"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named.wav", "notes.txt", "young.wav"]


# --- voice: voice prints and their reference recordings ----------------------------------------------------------


def voice_files(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "voice" / "speakers").iterdir())


def register(client: httpx.Client) -> httpx.Response:
    return client.post("/voice/register", files={"file": clip(REFERENCE)}, data={"name": "R", "description": "d"})


def test_voice_a_failed_commit_leaves_no_file_and_a_failed_write_no_row(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "voice" / "voice.db"
    with service_app("voice", tmp_path, **database_env) as client:
        refuse_rows(database_env, database, "voice_prints")
        assert register(client).status_code >= 500
        assert voice_files(tmp_path) == [] and client.get("/voice/speakers").json()["speakers"] == []
        accept_rows(database_env, database, "voice_prints")

        monkeypatch.setattr(os, "replace", failing)
        assert register(client).status_code >= 500
        monkeypatch.undo()
        assert voice_files(tmp_path) == [] and client.get("/voice/speakers").json()["speakers"] == []

        registered = register(client)  # and with nothing failing, a print and its file
        assert registered.status_code == 200, registered.text
        assert voice_files(tmp_path) == [f"{registered.json()['speaker_id']}.wav"]


def test_voice_a_crash_between_the_row_delete_and_the_file_delete_is_swept_at_start(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    speakers = tmp_path / "voice" / "speakers"
    with service_app("voice", tmp_path, **database_env) as client:
        deleted, kept, lost = (register(client).json()["speaker_id"] for _ in range(3))
        monkeypatch.setattr("services.voice.audio_store.remove_durably", failing)  # the process dies here
        assert client.delete(f"/voice/speakers/{deleted}").status_code >= 500
        monkeypatch.undo()
        assert client.get(f"/voice/speakers/{deleted}").status_code == 404  # the row's delete had committed
        assert client.get("/readyz").json()["reference_audio_missing"] == 0
    aged(speakers / f"{deleted}.wav")
    (speakers / f"{lost}.wav").unlink()
    in_flight = speakers / f"{uuid.uuid4()}.wav"  # another replica's write, its row not committed yet
    in_flight.write_bytes(b"RIFF")
    with service_app("voice", tmp_path, **database_env) as client:
        assert voice_files(tmp_path) == sorted([f"{kept}.wav", in_flight.name])
        assert client.get("/readyz").json()["reference_audio_missing"] == 1
        assert client.get(f"/voice/speakers/{lost}").status_code == 200  # reported, not deleted


# --- catalog: voice-cloning speakers and their reference recordings --------------------------------------------

JFK = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
LJ = ("lj.wav", (DATA / "asr" / "en_LJ050-0131.wav").read_bytes())
FORM = {"name": "Mine", "language": "en", "user_id": "alice", "reference_text": manifest()["asr/en_jfk.flac"]}


def recordings(data: Path) -> list[str]:
    directory = data / "catalog" / "reference_audio"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def add_speaker(client: httpx.Client) -> httpx.Response:
    return client.post("/api/speakers", data=FORM, files={"reference_audio": JFK})


def alices_speakers(client: httpx.Client) -> set[str]:
    listed = client.get("/api/speakers", params={"user_id": "alice"}).json()["speakers"]
    return {s["id"] for s in listed if s["user_id"] == "alice"}


def test_catalog_a_failed_commit_leaves_no_file_and_a_failed_write_no_row(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "catalog" / "catalog.db"
    with service_app("catalog", tmp_path, **database_env) as client:
        refuse_rows(database_env, database, "speakers")
        assert add_speaker(client).status_code >= 500
        assert recordings(tmp_path) == [] and alices_speakers(client) == set()
        accept_rows(database_env, database, "speakers")

        monkeypatch.setattr(os, "fsync", failing)
        assert add_speaker(client).status_code >= 500
        monkeypatch.undo()
        assert recordings(tmp_path) == [] and alices_speakers(client) == set()

        created = add_speaker(client)
        assert created.status_code == 200, created.text
        assert recordings(tmp_path) == [created.json()["reference_audio"]]


def test_catalog_a_replacement_whose_commit_fails_leaves_the_speaker_as_it_was(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str]
) -> None:
    database = tmp_path / "catalog" / "catalog.db"
    form = {"user_id": "alice", "reference_text": manifest()["asr/en_LJ050-0131.wav"]}
    with service_app("catalog", tmp_path, **database_env) as client:
        speaker = add_speaker(client).json()
        served = client.get(f"/internal/speakers/{speaker['id']}/reference-audio").content
        replace = f"/api/speakers/{speaker['id']}/reference-audio"
        refuse_rows(database_env, database, "speakers", "UPDATE")
        assert client.put(replace, data=form, files={"reference_audio": LJ}).status_code >= 500
        assert recordings(tmp_path) == [speaker["reference_audio"]]  # the new file is gone, the old one kept
        assert client.get(f"/internal/speakers/{speaker['id']}/reference-audio").content == served
        assert client.get(f"/api/speakers/{speaker['id']}").json() == speaker
        accept_rows(database_env, database, "speakers")

        replaced = client.put(replace, data=form, files={"reference_audio": LJ})
        assert replaced.status_code == 200, replaced.text
        assert recordings(tmp_path) == [replaced.json()["reference_audio"]]  # the old one removed after the commit
        assert client.get(f"/internal/speakers/{speaker['id']}/reference-audio").content != served


def test_catalog_a_crash_between_the_row_delete_and_the_file_delete_is_swept_at_start(
    service_app: ServiceApp, tmp_path: Path, database_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "catalog" / "reference_audio"
    with service_app("catalog", tmp_path, **database_env) as client:
        deleted, kept, lost = (add_speaker(client).json() for _ in range(3))
        monkeypatch.setattr("services.catalog.reference_audio.remove_durably", failing)  # the process dies here
        assert client.delete(f"/api/speakers/{deleted['id']}", params={"user_id": "alice"}).status_code >= 500
        monkeypatch.undo()
        assert alices_speakers(client) == {kept["id"], lost["id"]}
    aged(directory / deleted["reference_audio"])
    (directory / lost["reference_audio"]).unlink()
    with service_app("catalog", tmp_path, **database_env) as client:
        assert recordings(tmp_path) == [kept["reference_audio"]]
        assert client.get("/readyz").json()["reference_audio_missing"] == 1
        assert alices_speakers(client) == {kept["id"], lost["id"]}  # reported, not deleted


# --- the gateway: a request is resent only when no replica received it --------------------------------------------


class Replica(ThreadingHTTPServer):
    """A stand-in replica on a free port: answers GET (the health check); counts each POST it reads whole,
    then answers it, or (`dies`) drops the connection without a word, as a replica killed mid-request."""

    def __init__(self, dies: bool) -> None:
        self.dies, self.posts = dies, 0
        super().__init__(("127.0.0.1", 0), ReplicaHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ReplicaHandler(BaseHTTPRequestHandler):
    server: Replica

    def log_message(self, *_: object) -> None:
        pass

    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.answer(b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts += 1
        if self.server.dies:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.answer(b'{"speaker_id": "x"}')


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: connections there are refused


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """voice: a replica that dies on every POST it receives, and a healthy one; catalog: a refused port and a
    healthy replica; both behind the repository's Traefik configuration."""
    dying, voice, catalog = Replica(dies=True), Replica(dies=False), Replica(dies=False)
    backends = {"VOICE_URL": f"{dying.url},{voice.url}", "CATALOG_URL": f"{refused_url()},{catalog.url}"}
    with gateway_process(tmp_path_factory.mktemp("gateway"), **GATEWAY, **backends) as main:
        yield {
            "main": main,
            "speech": f"http://127.0.0.1:{GATEWAY['speech']}",
            "dying": dying,
            "voice": voice,
            "catalog": catalog,
        }
    for server in (dying, voice, catalog):
        server.shutdown()
        server.server_close()


@pytest.mark.service
def test_the_gateway_never_resends_a_post_a_replica_received(replicas: dict) -> None:
    statuses = [
        httpx.post(
            f"{replicas['main']}/voice/register", files={"file": ("a.wav", b"RIFF" * 64)}, timeout=30
        ).status_code
        for _ in range(6)
    ]
    dying, voice = replicas["dying"], replicas["voice"]
    # Every POST the dying replica read is the client's 502: none was sent on to the healthy one, whose every
    # POST is a 200. (A 503 would be Traefik's own, with both replicas failing their health check on a slow
    # machine: it reached neither.)
    assert statuses.count(502) == dying.posts >= 1, (statuses, dying.posts, voice.posts)
    assert statuses.count(200) == voice.posts >= 1, (statuses, dying.posts, voice.posts)


@pytest.mark.service
def test_the_gateway_skips_a_replica_that_refuses_connections(replicas: dict) -> None:
    statuses = [
        httpx.post(f"{replicas['speech']}/api/speakers", data={"name": "n"}, timeout=30).status_code for _ in range(6)
    ]
    assert statuses == [200] * 6 and replicas["catalog"].posts == 6
