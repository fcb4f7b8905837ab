"""Shared fixtures: paths to the real speech data and a fleet started exactly like `make run`; the tier
of every test (unit, service or fleet), from the fixtures it uses."""

import inspect
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# database_env: SQLite and a fresh PostgreSQL; service_app: a service's app built in this process;
# console: the web console of the fleet in Chromium.
pytest_plugins = ["tests.databases", "tests.in_process", "tests.console_page", "tests.helm_render"]

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
GATEWAY = "http://127.0.0.1:8124"
FLEET_PORTS = {
    "gateway-main": 8124,
    "gateway-bridge": 8125,
    "gateway-speech": 8005,
    "asr": 8201,
    "voice": 8203,
    "catalog": 8206,
    "webrtc": 8205,
}
READY_URLS = [f"http://127.0.0.1:{port}/readyz" for port in (8201, 8202, 8203, 8204, 8205, 8206)] + [
    "http://127.0.0.1:8180/ping",
    "http://127.0.0.1:8210/v1/models",  # the local llama.cpp server
]
SCRIPTED_LLM_URL = "http://127.0.0.1:8299/v1"
DEAD_WS_URLS = ["ws://127.0.0.1:8297/", "ws://127.0.0.1:8298/"]  # allowed, but nothing listens there
FORGETFUL_ASR_URL = "ws://127.0.0.1:8296/"  # allowed; a test's own ASR that closes idle streams
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20


TIERS = ("unit", "service", "fleet")


def gives_an_app_in_process(fixture: pytest.FixtureDef) -> bool:
    """Whether the fixture is annotated to give a TestClient, or a factory of them: an app in process."""
    return "TestClient" in str(inspect.signature(fixture.func).return_annotation)


def tier_from_fixtures(item: pytest.Item) -> str:
    """fleet with the `fleet` fixture (which `gateway` and others build on); service with a fixture that
    gives an app in process (tests/in_process.py's `service_app`, a test's own TestClient); else unit."""
    if "fleet" in getattr(item, "fixturenames", ()):
        return "fleet"
    info = getattr(item, "_fixtureinfo", None)  # the test's fixture definitions (pytest has no public accessor)
    fixtures = [fixture for defs in (info.name2fixturedefs.values() if info else ()) for fixture in defs]
    return "service" if any(gives_an_app_in_process(fixture) for fixture in fixtures) else "unit"


def tier_of(item: pytest.Item) -> str:
    """The test's tier: its explicit tier mark (which may only go up from what its fixtures need, e.g.
    `service` for a test that loads a real model itself), else the one its fixtures imply."""
    needed = tier_from_fixtures(item)
    marked = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
    if len(marked) > 1:
        raise pytest.UsageError(f"{item.nodeid} has {len(marked)} tier marks {sorted(marked)}; a test has one")
    if not marked:
        return needed
    (tier,) = marked
    if TIERS.index(tier) < TIERS.index(needed):
        raise pytest.UsageError(f"{item.nodeid} is marked {tier} but its fixtures make it a {needed} test")
    return tier


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        if not item.get_closest_marker(tier):
            item.add_marker(tier)


def manifest() -> dict[str, str]:
    """local_path → reference transcript, from ../shared/data/MANIFEST.tsv."""
    rows = (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {cols[0]: cols[6] for cols in (row.split("\t") for row in rows)}


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} while waiting for {what}")
        if predicate():
            return
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_fleet(proc: subprocess.Popen) -> bool:
    """Ctrl-C (SIGINT) to the process group, as in a terminal; SIGKILL if it has not stopped in time."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(STOP_TIMEOUT_S)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return False


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA.is_dir(), f"speech data not found at {DATA} (set VOICEFLEET_TEST_DATA)"
    return DATA


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`make run` in a process group; on teardown Ctrl-C (SIGINT) must stop everything cleanly."""
    busy = [name for name, port in FLEET_PORTS.items() if port_in_use(port)]
    assert not busy, f"ports of {busy} are taken: stop a running `make run` before the tests"
    # `make test` exports the AASIST checkpoint first; `make run` serves models/aasist.onnx when it exists.
    subprocess.run(["make", "--no-print-directory", "antispoof-model"], cwd=REPO, check=True, stdin=subprocess.DEVNULL)
    log_path = tmp_path_factory.mktemp("fleet") / "fleet.log"
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path_factory.mktemp("fleet-data")),
        # The scripted OpenAI-compatible LLM of the voice-chat tests (tests/scripted_llm.py).
        "ALLOWED_URLS": json.dumps(
            [SCRIPTED_LLM_URL, *DEAD_WS_URLS, FORGETFUL_ASR_URL, "ws://127.0.0.1:8124/ws/transcribe/vad"]
        ),
        "FOLLOW_UP_AFTER_S": "1.5",
        "INACTIVITY_TIMEOUT_S": "4",
        "PEER_MEDIA_TIMEOUT_S": "3",  # a browser that vanishes is noticed after 3 s
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_until(lambda: all(_ready(u) for u in READY_URLS), START_TIMEOUT_S, "the fleet", proc)
    except Exception:
        stop_fleet(proc)  # Ctrl-C first: supervisord stops its children; a bare SIGKILL would orphan them
        raise RuntimeError(f"fleet did not start; log:\n{log_path.read_text()[-4000:]}") from None
    yield GATEWAY
    if not stop_fleet(proc):
        pytest.fail(f"the fleet did not stop within {STOP_TIMEOUT_S} s of Ctrl-C")
    still_bound = [name for name, port in FLEET_PORTS.items() if port_in_use(port)]
    assert not still_bound, f"still listening after Ctrl-C: {still_bound}"


@pytest.fixture
async def gateway(fleet: str) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=fleet, timeout=120) as client:
        yield client
