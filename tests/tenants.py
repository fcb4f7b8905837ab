"""A catalog process with API keys on and keys made through it for alice, bob and an admin: the real key
check that tests/test_tenancy*.py run the services against."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import DATA, manifest
from tests.processes import service_process

ADMIN_KEY = "vf_tenancyadm01_" + "T" * 43
CATALOG_PORT = 8317  # apart from test_auth_gateway.py's gateway (8361)
JFK = ("jfk.flac", (DATA / "asr" / "en_jfk.flac").read_bytes())
JFK_TEXT = manifest()["asr/en_jfk.flac"]


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
