"""API keys in the Helm chart (offline, Helm's Go SDK as in tests/helm_render.py): keys are on, the Secret holds a
generated admin key of the catalog's form and a service token (or the given ones), every service reads the
token and the catalog the admin key from it, the others check keys at the catalog, `helm test` sends the key."""

import base64

import pytest
from helm_python.chart import Chart
from helm_python.errors import HelmValuesError

from services.common.auth import key_id
from tests.helm_render import CHART, NAMESPACE, PREFIX, RELEASE, Rendered, container, settings_class

SERVICES = ("asr", "voice", "tts", "catalog", "voicechat", "webrtc")
GIVEN_KEY = "vf_givenadmin01_" + "K" * 43


@pytest.fixture(scope="module")
def chart():
    with Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values: dict) -> Rendered:
    return Rendered(chart.render(values, name=RELEASE, namespace=NAMESPACE))


def secret_data(out: Rendered) -> dict[str, str]:
    (secret,) = out.of("Secret")
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def secret_refs(deployment: dict) -> set[str]:
    return {e["name"] for e in container(deployment)["env"] if "secretKeyRef" in e.get("valueFrom", {})}


def test_keys_are_on_with_generated_secrets(chart, monkeypatch) -> None:
    out = render(chart, {})
    data = secret_data(out)
    assert key_id(data["ADMIN_API_KEY"]) is not None and len(data["SERVICE_TOKEN"]) >= 40
    for service in SERVICES:
        env = out.configmap_env(service)
        assert env["AUTH_REQUIRED"] == "true", service
        assert "SERVICE_TOKEN" in secret_refs(out.get("Deployment", f"{PREFIX}-{service}")), service
        if service != "catalog":  # the catalog checks keys in process
            assert env["AUTH_VERIFY_URL"] == f"http://{PREFIX}-catalog:8000/internal/auth/verify", service
    assert "ADMIN_API_KEY" in secret_refs(out.get("Deployment", f"{PREFIX}-catalog"))
    assert "ADMIN_API_KEY" not in secret_refs(out.get("Deployment", f"{PREFIX}-tts"))
    for key, value in {**out.configmap_env("catalog"), **data}.items():  # the catalog starts with them
        monkeypatch.setenv(key, value)
    catalog = settings_class("catalog")(_env_file=None)
    assert catalog.auth_required and catalog.admin_api_key.get_secret_value() == data["ADMIN_API_KEY"]
    (test_pod,) = out.of("Pod")
    assert "ADMIN_API_KEY" in {e["name"] for e in test_pod["spec"]["containers"][0]["env"]}
    assert "ADMIN_API_KEY" in out.notes and "/api/keys" in out.notes


def test_given_secrets_are_used_and_a_malformed_admin_key_refused(chart) -> None:
    data = secret_data(render(chart, {"secrets": {"adminApiKey": GIVEN_KEY, "serviceToken": "given-token-1"}}))
    assert (data["ADMIN_API_KEY"], data["SERVICE_TOKEN"]) == (GIVEN_KEY, "given-token-1")
    with pytest.raises(HelmValuesError, match="adminApiKey"):
        render(chart, {"secrets": {"adminApiKey": "not-a-key"}})
    with pytest.raises(HelmValuesError, match="SERVICE_TOKEN"):
        render(chart, {"services": {"tts": {"env": {"SERVICE_TOKEN": "in-a-configmap"}}}})


def test_keys_can_be_turned_off(chart) -> None:
    out = render(chart, {"commonEnv": {"AUTH_REQUIRED": False}})
    assert out.configmap_env("asr")["AUTH_REQUIRED"] == "false" and "ADMIN_API_KEY" not in out.notes
