"""The Helm chart's settings: ConfigMaps, Secrets and pod env hold exactly the settings classes' names and defaults
(shared rendering in tests/helm_render.py)."""

import base64
import json
from urllib.parse import urlsplit

from tests.helm_render import (
    DEPLOYED_DEFAULTS,
    ICE_SERVERS,
    PREFIX,
    SECRET_ENV,
    SECRET_VALUES,
    SERVICES,
    container,
    env_text,
    local_llm_env,
    setting_names,
    settings_class,
)


def test_configmaps_hold_only_settings_of_their_service(variant, monkeypatch):
    """Every name is a field of the service's settings class, and the class accepts every value."""
    name, out = variant
    for service in SERVICES:
        env = out.configmap_env(service)
        assert env, service
        unknown = set(env) - setting_names(service)
        assert not unknown, (
            f"{name}: {service} ConfigMap has {sorted(unknown)}, not in {settings_class(service).__name__}"
        )
        for key in setting_names(service):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = settings_class(service)(_env_file=None)
        assert str(settings.data_dir) == "/data" and str(settings.model_cache_dir) == "/models"
        for key in env:
            monkeypatch.delenv(key)
    assert set(out.configmap_env("llm")) <= local_llm_env()


def test_secret_env_and_pod_env_are_settings(variant):
    _, out = variant
    for service, deployment in out.service_deployments().items():
        env = container(deployment)["env"]
        from_secret = {e["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
        assert from_secret <= SECRET_ENV & setting_names(service), service
        assert from_secret, service
        assert "REDIS_URL" in from_secret, f"{service} counts its per-client limits in Redis"
    assert {"DATABASE_URL"} <= {
        e["name"] for e in container(out.get("Deployment", f"{PREFIX}-voice"))["env"] if "valueFrom" in e
    }


def test_values_env_defaults_are_the_settings_defaults(chart, monkeypatch):
    """values.yaml shows settings at their real defaults: a changed default in the code fails here."""
    values = chart.values
    for service in SERVICES:
        cls = settings_class(service)
        given = {**values["commonEnv"], **values["services"][service]["env"]}
        for key in setting_names(service):
            monkeypatch.delenv(key, raising=False)
        for key, value in given.items():
            monkeypatch.setenv(key, env_text(value))
        settings = cls(_env_file=None)
        for key in given:
            field = cls.model_fields[key.lower()]
            default = DEPLOYED_DEFAULTS.get(key, field.get_default(call_default_factory=True))
            assert getattr(settings, key.lower()) == default, (service, key)
        for key in given:
            monkeypatch.delenv(key)


def test_secrets_go_to_the_secret_only(rendered, monkeypatch):
    out = rendered["inline-secrets"]
    (secret,) = out.of("Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert json.loads(data.pop("ICE_SERVERS")) == ICE_SERVERS
    assert data == SECRET_VALUES
    secrets = [*SECRET_VALUES.values(), "turn-Pa55word", "db-Pa55word", "redis-Pa55word"]
    for obj in out.objects:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{obj['kind']} {obj['metadata']['name']} holds {leaked}"
    for cm in out.of("ConfigMap"):
        assert not set(cm.get("data") or {}) & SECRET_ENV, cm["metadata"]["name"]
    # The services accept the Secret's values as the chart writes them (ICE_SERVERS as JSON).
    for key, value in {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}.items():
        monkeypatch.setenv(key, value)
    webrtc = settings_class("webrtc")(_env_file=None)
    assert webrtc.ice_servers == ICE_SERVERS and webrtc.redis_url == SECRET_VALUES["REDIS_URL"]
    assert settings_class("voicechat")(_env_file=None).llm_api_key.get_secret_value() == SECRET_VALUES["LLM_API_KEY"]


def test_bundled_database_and_redis_by_default(rendered):
    out = rendered["default"]
    (secret,) = out.of("Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    url = urlsplit(data["DATABASE_URL"])
    assert url.scheme == "postgresql" and url.hostname == f"{PREFIX}-postgresql" and url.port == 5432
    assert url.password == data["POSTGRES_PASSWORD"] and len(url.password) >= 16
    assert data["REDIS_URL"] == f"redis://{PREFIX}-redis:6379/0"
    assert {f"{PREFIX}-postgresql", f"{PREFIX}-redis"} <= out.names("Service")
    postgres = out.get("StatefulSet", f"{PREFIX}-postgresql")
    assert container(postgres)["image"] == "postgres:17.6-bookworm"
    assert container(out.get("Deployment", f"{PREFIX}-redis"))["image"] == "redis:7.4.5-bookworm"
    for c in ("StatefulSet", "Deployment"):
        assert not [o for o in rendered["production"].of(c) if "postgres" in o["metadata"]["name"]]
    assert not [o for o in rendered["production"].of("Deployment") if o["metadata"]["name"].endswith("-redis")]


def test_existing_secret_is_used_and_none_is_made(rendered):
    out = rendered["production"]
    assert out.of("Secret") == []
    for deployment in out.service_deployments().values():
        refs = [
            e["valueFrom"]["secretKeyRef"]
            for e in container(deployment)["env"]
            if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
        ]
        assert refs and {r["name"] for r in refs} == {"voicefleet-production"}
