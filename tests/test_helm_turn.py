"""The Helm chart with a TURN secret (offline, Helm's Go SDK as in tests/helm_render.py): TURN_SECRET lands in
the Secret only, webrtc reads it from there, and webrtc's settings accept the Secret and its ConfigMap."""

import base64
import json

import pytest
from helm_python.chart import Chart
from helm_python.errors import HelmValuesError

from tests.helm_render import CHART, NAMESPACE, PREFIX, RELEASE, Rendered, container, settings_class

TURN_SECRET = "turn-static-auth-s3cret-77"
TURN_URLS = ["turn:turn.example.org:3478", "turns:turn.example.org:5349"]
VALUES = {
    "secrets": {"turnSecret": TURN_SECRET},
    "services": {"webrtc": {"env": {"TURN_URLS": TURN_URLS, "TURN_TTL_S": 900}}},
}


@pytest.fixture(scope="module")
def chart():
    with Chart.load(CHART) as loaded:
        yield loaded


def test_the_turn_secret_goes_to_the_secret_only(chart, monkeypatch) -> None:
    out = Rendered(chart.render(VALUES, name=RELEASE, namespace=NAMESPACE))
    (secret,) = out.of("Secret")
    data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert data["TURN_SECRET"] == TURN_SECRET
    for obj in out.objects:
        if obj["kind"] != "Secret":
            assert TURN_SECRET not in json.dumps(obj), f"{obj['kind']} {obj['metadata']['name']}"
    webrtc = container(out.get("Deployment", f"{PREFIX}-webrtc"))
    from_secret = {e["name"] for e in webrtc["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert "TURN_SECRET" in from_secret
    for key, value in {**data, **out.configmap_env("webrtc")}.items():
        monkeypatch.setenv(key, value)
    settings = settings_class("webrtc")(_env_file=None)
    assert settings.turn_secret.get_secret_value() == TURN_SECRET
    assert (settings.turn_urls, settings.turn_ttl_s) == (TURN_URLS, 900)


def test_the_notes_ask_for_turn_only_without_it(chart) -> None:
    warning = "no ICE_SERVERS or TURN_SECRET are set"
    assert warning in Rendered(chart.render({}, name=RELEASE, namespace=NAMESPACE)).notes
    assert warning not in Rendered(chart.render(VALUES, name=RELEASE, namespace=NAMESPACE)).notes


def test_turn_secret_is_refused_in_a_configmap(chart) -> None:
    with pytest.raises(HelmValuesError, match="TURN_SECRET"):
        chart.render({"services": {"webrtc": {"env": {"TURN_SECRET": TURN_SECRET}}}}, name=RELEASE, namespace=NAMESPACE)
