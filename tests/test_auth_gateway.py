"""API keys through the repository's real Traefik configuration (its own ports) in front of a real catalog
process with keys on: the public routes need a key, /api/keys is routed and /internal/ is not, and neither
Traefik's access log nor the catalog's holds a key sent as ?api_key=.

Not through the `fleet` fixture: that one is `make run` (keys off) for the whole session, and a second fleet
with keys on would load every model again; the gateway and the catalog are what decide here."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway import gateway_process
from tests.processes import service_process

ADMIN_KEY = "vf_gateway00001_" + "G" * 43
CATALOG_PORT = 8353
GATEWAY = {"main": 8354, "bridge": 8355, "speech": 8356, "ping": 8357}
SPEECH = f"http://127.0.0.1:{GATEWAY['speech']}"

pytestmark = pytest.mark.service  # two processes of the fleet's, no model


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-gateway")


@pytest.fixture(scope="module")
def speech(work_dir: Path) -> Iterator[str]:
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN_KEY, "LOG_JSON": "false"}
    catalog = service_process("services.catalog.main:app", CATALOG_PORT, work_dir / "catalog", **env)
    with catalog as url, gateway_process(work_dir / "gateway", **GATEWAY, CATALOG_URL=url):
        yield SPEECH


def test_keys_through_the_gateway(speech: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    refused = httpx.get(f"{speech}/api/speakers")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    made = httpx.post(f"{speech}/api/keys", headers=admin, json={"user_id": "alice", "scopes": ["all"]})
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    assert httpx.get(f"{speech}/api/speakers", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(f"{speech}/api/keys", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert httpx.get(f"{speech}/api/keys", headers=admin).status_code == 200
    assert httpx.post(f"{speech}/internal/auth/verify", json={"key": key}).status_code == 404  # not routed


def test_a_query_key_is_in_no_log(speech: str, work_dir: Path) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    key = httpx.post(f"{speech}/api/keys", headers=admin, json={"user_id": "bob", "scopes": ["catalog"]}).json()["key"]
    answer = httpx.get(f"{speech}/api/speakers", params={"api_key": key, "language": "en"})
    assert answer.status_code == 200 and answer.json()["speakers"]
    assert httpx.get(f"{speech}/api/speakers", params={"api_key": key[:-1] + "!"}).status_code == 401
    gateway_log = (work_dir / "gateway" / "traefik.log").read_text()
    catalog_log = (work_dir / "catalog" / f"catalog-{CATALOG_PORT}.log").read_text()
    assert '"RequestPath":"/api/speakers"' in gateway_log  # the requests are logged, without their query
    assert "GET /api/speakers?language=en HTTP/1.1" in catalog_log  # the rest of the query stays
    for log in (gateway_log, catalog_log):
        assert key not in log and key[:-1] not in log and "api_key" not in log
