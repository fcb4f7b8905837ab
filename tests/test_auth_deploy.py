"""API keys in the deployments, offline: compose turns them on and refuses to start without its secrets,
`make deploy-secrets` writes secrets the services accept (and never changes one), the gateway's access log
drops query strings."""

import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.catalog.settings import CatalogSettings
from services.common.auth import key_id
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "deploy"))
import env_secrets  # noqa: E402

VOICEFLEET_SERVICES = ("asr", "voice", "tts", "catalog", "voicechat", "webrtc")


def test_compose_turns_keys_on_and_needs_its_secrets() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    for name in VOICEFLEET_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["AUTH_REQUIRED"] == "${AUTH_REQUIRED:-true}", name
        assert env["SERVICE_TOKEN"].startswith("${SERVICE_TOKEN:?"), name  # compose stops with the message
        assert env["AUTH_VERIFY_URL"] == "http://catalog:8000/internal/auth/verify", name
        assert env["RATE_LIMIT_PER_MINUTE"] == "${RATE_LIMIT_PER_MINUTE:-600}", name  # per-client limits on
        assert env["MAX_CLIENT_SESSIONS"] == "${MAX_CLIENT_SESSIONS:-16}", name
    assert compose["services"]["catalog"]["environment"]["ADMIN_API_KEY"].startswith("${ADMIN_API_KEY:?")
    assert "AUTH_REQUIRED" not in compose["services"]["llm"].get("environment", {})


def test_the_chart_limits_each_client_by_default() -> None:
    values = yaml.safe_load((REPO / "deploy" / "k8s" / "voicefleet" / "values.yaml").read_text())
    assert values["commonEnv"]["RATE_LIMIT_PER_MINUTE"] > 0 and values["commonEnv"]["MAX_CLIENT_SESSIONS"] > 0


def test_deploy_secrets_fill_in_what_is_missing_and_keep_the_rest(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=mine\nADMIN_API_KEY=\n# SERVICE_TOKEN=\nLOG_LEVEL=DEBUG\n")
    assert env_secrets.write_secrets(env_file) == ["ADMIN_API_KEY", "SERVICE_TOKEN"]
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
    assert values["POSTGRES_PASSWORD"] == "mine" and values["LOG_LEVEL"] == "DEBUG"
    assert key_id(values["ADMIN_API_KEY"]) is not None  # a key the catalog accepts
    assert CatalogSettings(admin_api_key=values["ADMIN_API_KEY"]).admin_api_key is not None
    assert len(values["SERVICE_TOKEN"]) >= 40
    before = env_file.read_text()
    assert env_secrets.write_secrets(env_file) == [] and env_file.read_text() == before
    assert env_file.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_the_gateway_logs_requests_without_their_query() -> None:
    for path in ("gateway/traefik.yml", "deploy/k8s/voicefleet/files/traefik.yml"):
        config = yaml.safe_load((REPO / path).read_text())
        assert config["accessLog"]["fields"]["queryParameters"]["defaultMode"] == "drop", path


def test_a_malformed_admin_key_stops_the_catalog_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        CatalogSettings(_env_file=None, admin_api_key="vf_short_s3cr3t-value")
    assert "ADMIN_API_KEY must be vf_" in str(refused.value) and "s3cr3t" not in str(refused.value)
