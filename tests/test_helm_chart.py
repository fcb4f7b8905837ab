"""The Helm chart (deploy/k8s/voicefleet), offline: rendered and linted by Helm's Go SDK (helm-python-sdk, the
equivalent of `helm template` + `helm lint`), every manifest validated against the Kubernetes JSON schemas
(kubernetes-validate, strict), and the rendered objects checked against the code they deploy: settings
classes, gateway/ files, health endpoints. Nothing here starts a service or needs a cluster."""

import base64
import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_python.chart import Chart, lint
from helm_python.errors import HelmValuesError

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "deploy" / "k8s" / "voicefleet"
K8S_VERSION = "1.33.0"
RELEASE, NAMESPACE = "vf", "voice"
PREFIX = f"{RELEASE}-voicefleet"
sys.path.insert(0, str(REPO / "deploy"))
from service_settings import SERVICES, setting_names, settings_class  # noqa: E402

# GPU-capable services and the device settings the GPU switch must set to cuda.
GPU_DEVICES = {
    "asr": {"ASR_DEVICE"},
    "voice": {"SPEAKER_DEVICE", "ANTISPOOF_DEVICE", "SSAP_DEVICE"},
    "tts": {"F5TTS_DEVICE"},
}


def load_values_schema():
    spec = importlib.util.spec_from_file_location("values_schema", REPO / "deploy" / "k8s" / "values_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The generator refuses a SecretStr setting missing from its list, so the list is the settings' secrets.
SECRET_ENV = set(load_values_schema().SECRET_ENV)
# Settings the chart sets on purpose to another value than the code's default: API keys and per-client
# limits are on in a deployment, off for `make run`.
DEPLOYED_DEFAULTS = {"AUTH_REQUIRED": True, "RATE_LIMIT_PER_MINUTE": 600, "MAX_CLIENT_SESSIONS": 16}

PRODUCTION = {
    "services": {
        "asr": {"gpu": {"enabled": True}},
        "tts": {"gpu": {"enabled": True}},
        "voice": {"gpu": {"enabled": True}, "replicas": 2},
        "webrtc": {"replicas": 2},
        "voicechat": {"autoscaling": {"enabled": True}},
        "catalog": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}},
    },
    "postgresql": {"enabled": False},
    "redis": {"enabled": False},
    "secrets": {"existingSecret": "voicefleet-production"},
    "persistence": {
        key: {"storageClass": "nfs-client", "accessModes": ["ReadWriteMany"]}
        for key in ("models", "voiceData", "catalogData")
    },
    "gateway": {"enabled": False},
    "ingressRoute": {
        "enabled": True,
        "main": {"entryPoints": ["websecure"], "host": "voice.example.com"},
        "bridge": {"entryPoints": ["bridge"]},
        "speech": {"entryPoints": ["websecure"], "host": "speech.example.com"},
        "tls": {"secretName": "voicefleet-tls"},
    },
}
# Secret values given inline (the chart makes the Secret): they must end up there and nowhere else.
SECRET_VALUES = {
    "DATABASE_URL": "postgresql://voicefleet:db-Pa55word@db.example.internal:5432/voicefleet",
    "REDIS_URL": "redis://:redis-Pa55word@redis.example.internal:6379/0",
    "LLM_API_KEY": "sk-test-llm-key-0123",
    "HF_TOKEN": "hf_test_token_4567",
    "ADMIN_API_KEY": "vf_inlineadmin1_" + "S" * 43,
    "SERVICE_TOKEN": "service-T0ken-89ab",
}
ICE_SERVERS = [{"urls": ["turn:turn.example.org:3478"], "username": "turnuser", "credential": "turn-Pa55word"}]
INLINE_SECRETS = {
    "secrets": {
        "existingSecret": "",
        "databaseUrl": SECRET_VALUES["DATABASE_URL"],
        "redisUrl": SECRET_VALUES["REDIS_URL"],
        "llmApiKey": SECRET_VALUES["LLM_API_KEY"],
        "hfToken": SECRET_VALUES["HF_TOKEN"],
        "adminApiKey": SECRET_VALUES["ADMIN_API_KEY"],
        "serviceToken": SECRET_VALUES["SERVICE_TOKEN"],
        "iceServers": ICE_SERVERS,
    },
    "postgresql": {"enabled": False},
    "redis": {"enabled": False},
}
VARIANTS = {
    "default": {},
    "production": PRODUCTION,
    "inline-secrets": INLINE_SECRETS,
    "all-autoscaled": {
        "services": {name: {"autoscaling": {"enabled": True}} for name in ("voicechat", "webrtc", "catalog")}
    },
}

# IngressRoute and Middleware (traefik.io/v1alpha1) are CRDs, whose schemas are not available offline: this
# schema covers the fields the chart uses, after Traefik v3's CRD reference, and refuses any other field.
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
_METADATA = {"type": "object", "required": ["name"], "properties": {"name": _NAME}}
TRAEFIK_SCHEMAS = {
    "IngressRoute": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "traefik.io/v1alpha1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["routes"],
                "additionalProperties": False,
                "properties": {
                    "entryPoints": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "tls": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "secretName": {"type": "string"},
                            "certResolver": {"type": "string"},
                            "options": {"type": "object"},
                            "domains": {"type": "array"},
                        },
                    },
                    "routes": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["kind", "match", "services"],
                            "additionalProperties": False,
                            "properties": {
                                "kind": {"const": "Rule"},
                                "match": {"type": "string", "minLength": 1},
                                "priority": {"type": "integer"},
                                "middlewares": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["name"],
                                        "additionalProperties": False,
                                        "properties": {"name": _NAME, "namespace": {"type": "string"}},
                                    },
                                },
                                "services": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["name", "port"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "kind": {"enum": ["Service", "TraefikService"]},
                                            "name": _NAME,
                                            "port": {"type": ["integer", "string"]},
                                            "sticky": {
                                                "type": "object",
                                                "required": ["cookie"],
                                                "additionalProperties": False,
                                                "properties": {
                                                    "cookie": {
                                                        "type": "object",
                                                        "additionalProperties": False,
                                                        "properties": {
                                                            "name": {"type": "string"},
                                                            "secure": {"type": "boolean"},
                                                            "httpOnly": {"type": "boolean"},
                                                            "sameSite": {"enum": ["none", "lax", "strict"]},
                                                            "maxAge": {"type": "integer"},
                                                            "path": {"type": "string"},
                                                        },
                                                    }
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Middleware": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "traefik.io/v1alpha1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "buffering": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "maxRequestBodyBytes": {"type": "integer", "minimum": 0},
                            "memRequestBodyBytes": {"type": "integer", "minimum": 0},
                        },
                    },
                    "retry": {
                        "type": "object",
                        "required": ["attempts"],
                        "additionalProperties": False,
                        "properties": {
                            "attempts": {"type": "integer", "minimum": 1},
                            "initialInterval": {"type": "string"},
                            "retryNonIdempotentMethod": {"type": "boolean"},
                        },
                    },
                    "replacePath": {
                        "type": "object",
                        "required": ["path"],
                        "additionalProperties": False,
                        "properties": {"path": {"type": "string", "pattern": "^/"}},
                    },
                },
            },
        },
    },
}


# --- helpers --------------------------------------------------------------------------------------------------


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def env_text(value: object) -> str:
    """A values.yaml value as the chart writes it into a ConfigMap."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def local_llm_env() -> set[str]:
    return set(re.findall(r'os\.environ\.get\("(LOCAL_LLM_[A-Z_]+)"', (REPO / "deploy" / "local_llm.py").read_text()))


def dynamic_yml_env() -> set[str]:
    return set(re.findall(r'env "([A-Z_]+)"', (REPO / "gateway" / "dynamic.yml").read_text()))


def dynamic_yml_routers() -> dict:
    """gateway/dynamic.yml's routers (its Go-template lines, all outside the routers, dropped to parse it)."""
    text = "\n".join(line for line in (REPO / "gateway" / "dynamic.yml").read_text().splitlines() if "{{" not in line)
    return yaml.safe_load(text)["http"]["routers"]


class Rendered:
    def __init__(self, files: dict[str, str]):
        self.notes = next((text for path, text in files.items() if path.endswith("NOTES.txt")), "")
        self.objects = [
            doc
            for path, text in sorted(files.items())
            if not path.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text)
            if doc
        ]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [o for o in self.of(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of(kind)}

    def service_deployments(self) -> dict[str, dict]:
        """component → Deployment, for the voicefleet services (gateway, llm and redis excluded)."""
        return {
            d["metadata"]["labels"]["app.kubernetes.io/component"]: d
            for d in self.of("Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/component"] in SERVICES
        }

    def configmap_env(self, component: str) -> dict[str, str]:
        (cm,) = [
            c
            for c in self.of("ConfigMap")
            if c["metadata"]["labels"]["app.kubernetes.io/component"] == component
            and c["metadata"]["name"] == f"{PREFIX}-{component}"
        ]
        return cm.get("data") or {}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict) -> dict:
    (c,) = pod_spec(workload)["containers"]
    return c


@pytest.fixture(scope="module")
def chart():
    with Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def rendered(chart) -> dict[str, Rendered]:
    return {
        variant: Rendered(chart.render(values, name=RELEASE, namespace=NAMESPACE))
        for variant, values in VARIANTS.items()
    }


@pytest.fixture(params=list(VARIANTS))
def variant(request, rendered) -> tuple[str, Rendered]:
    return request.param, rendered[request.param]


# --- Helm: lint, schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_helm_lint_is_clean(name):
    report = lint(CHART, VARIANTS[name], strict=True, namespace=NAMESPACE, kube_version=f"v{K8S_VERSION}")
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_values_schema_is_generated_from_the_settings():
    """values.schema.json is what deploy/k8s/values_schema.py writes from the current settings classes."""
    assert (CHART / "values.schema.json").read_text() == load_values_schema().render(), (
        "values.schema.json is stale: run `python deploy/k8s/values_schema.py`"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"services": {"asr": {"env": {"ASR_MODLE": "embedded:whisper-base"}}}},  # not a setting
        {"services": {"voice": {"env": {"DATABASE_URL": "postgresql://u:p@db/v"}}}},  # a secret
        {"services": {"voicechat": {"env": {"LLM_API_KEY": "sk-1"}}}},
        {"commonEnv": {"REDIS_URL": "redis://:p@redis:6379/0"}},
        {"services": {"asr": {"env": {"ASR_WORKERS": 0}}}},  # out of the setting's bounds
        {"services": {"voice": {"env": {"SPEAKER_DEVICE": "gpu"}}}},  # not one of its choices
        {"services": {"webrtc": {"secretEnv": ["HF_TOKEN"]}}},  # webrtc has no such setting
    ],
)
def test_values_schema_refuses_bad_settings(chart, values):
    with pytest.raises(HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --- Kubernetes schemas ---------------------------------------------------------------------------------------


def test_every_manifest_validates(variant):
    name, out = variant
    assert out.objects
    for obj in out.objects:
        where = f"{name}: {obj['kind']} {obj['metadata']['name']}"
        if obj["apiVersion"].startswith("traefik.io/"):
            jsonschema.Draft202012Validator(TRAEFIK_SCHEMAS[obj["kind"]]).validate(obj)
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{where}: {'.'.join(map(str, error.path))}: {error.message}")


def test_the_traefik_schema_catches_mistakes(rendered):
    route = copy.deepcopy(rendered["production"].get("IngressRoute", f"{PREFIX}-main"))
    route["spec"]["routes"][0]["services"][0]["sticky"] = {"cookie": {"sameSite": "sometimes"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(TRAEFIK_SCHEMAS["IngressRoute"]).validate(route)


# --- Workloads ------------------------------------------------------------------------------------------------


def test_every_service_is_deployed_with_probes_resources_and_non_root(variant):
    _, out = variant
    deployments = out.service_deployments()
    assert set(deployments) == set(SERVICES)
    for service, deployment in deployments.items():
        c = container(deployment)
        assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, service
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, service
        startup = c["startupProbe"]
        assert startup["httpGet"] == {"path": "/healthz", "port": "http"}
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, "model loading needs minutes"
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    for workload in out.of("Deployment") + out.of("StatefulSet") + out.of("Pod"):
        spec = workload["spec"] if workload["kind"] == "Pod" else pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), workload["metadata"]["name"]
            assert "memory" in c["resources"]["limits"], workload["metadata"]["name"]
    for service, deployment in out.service_deployments().items():
        assert pod_spec(deployment)["securityContext"]["runAsUser"] == 10001, service


def measured_memory() -> dict[str, tuple[int, int]]:
    """service → (idle, peak) RSS in MiB, from the service memory table in docs/BENCHMARKS.md."""
    text = (REPO / "docs" / "BENCHMARKS.md").read_text()
    section = text[text.index("## Service memory (Kubernetes sizing)") :]
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| \d+ \| \w+ \| \w+ \|$", section, re.M)
    return {service: (int(idle), int(peak)) for service, idle, peak in rows}


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(Mi|Gi)", quantity).groups()
    return float(number) * (1024 if unit == "Gi" else 1)


def test_memory_requests_and_limits_cover_the_measurements(chart):
    """Requests hold a service at rest and limits its measured peak (bench/service_memory.py), so values
    cannot fall below what the benchmark saw."""
    measured = measured_memory()
    services = chart.values["services"]
    assert set(measured) == set(services), "every service needs a measurement in docs/BENCHMARKS.md"
    for service, (idle, peak) in measured.items():
        resources = services[service]["resources"]
        assert mebibytes(resources["requests"]["memory"]) >= idle, service
        assert mebibytes(resources["limits"]["memory"]) >= peak * 1.1, service
        assert resources["requests"]["cpu"], service


def test_llm_is_probed_on_its_openai_endpoint(rendered):
    c = container(rendered["default"].get("Deployment", f"{PREFIX}-llm"))
    assert c["command"] == ["python", "/opt/local_llm.py"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/v1/models"
    assert rendered["default"].configmap_env("llm") == {
        "LOCAL_LLM_HOST": "0.0.0.0",
        "LOCAL_LLM_PORT": "8000",
        "LOCAL_LLM_THREADS": "2",
    }


def test_gpu_only_where_switched_on(rendered):
    for variant, gpu_on in (("default", set()), ("production", set(GPU_DEVICES))):
        deployments = rendered[variant].service_deployments()
        for service, deployment in deployments.items():
            spec, c = pod_spec(deployment), container(deployment)
            env = rendered[variant].configmap_env(service)
            tolerations = spec.get("tolerations", [])
            if service in gpu_on:
                assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
                assert "nvidia.com/gpu" not in c["resources"]["requests"]
                assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
                assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
                assert c["image"] == f"voicefleet/{service}:0.1.0-gpu"
                assert {name: env[name] for name in GPU_DEVICES[service]} == dict.fromkeys(GPU_DEVICES[service], "cuda")
            else:
                assert "nvidia.com/gpu" not in json.dumps(deployment), (variant, service)
                assert c["image"] == f"voicefleet/{service}:0.1.0"
                assert not {name for name in env if name.endswith("_DEVICE")}, (variant, service)


def test_webrtc_announces_its_pod_address(variant):
    _, out = variant
    env = container(out.get("Deployment", f"{PREFIX}-webrtc"))["env"]
    names = [e["name"] for e in env]
    pod_ip = env[names.index("POD_IP")]
    assert pod_ip["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    replica_url = env[names.index("REPLICA_URL")]
    assert replica_url["value"] == "http://$(POD_IP):8000"
    assert names.index("POD_IP") < names.index("REPLICA_URL"), "$(POD_IP) only expands from earlier variables"


# --- Settings: ConfigMaps and Secret ---------------------------------------------------------------------------


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


def test_links_point_at_rendered_services(variant):
    _, out = variant
    services = out.names("Service")
    for service in SERVICES:
        for key, value in out.configmap_env(service).items():
            if key.endswith("_URL") and value.startswith(("http://", "ws://")):
                url = urlsplit(value)
                assert url.hostname in services and url.port == 8000, (service, key, value)
    (test_pod,) = out.of("Pod")  # `helm test`: readiness of every service, and a route through the gateway
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    checked = test_pod["spec"]["containers"][0]["args"][1:]
    assert {urlsplit(url).hostname for url in checked} <= services
    assert {urlsplit(url).hostname for url in checked} >= set(out.names("Deployment")) - {f"{PREFIX}-redis"}
    env = out.configmap_env("voicechat")
    assert env["ASR_WS_URL"] == f"ws://{PREFIX}-asr:8000/ws/transcribe/vad"
    assert env["TTS_WS_URL"] == f"ws://{PREFIX}-tts:8000/ws/tts"
    assert env["LLM_BASE_URL"] == f"http://{PREFIX}-llm:8000/v1"
    assert out.configmap_env("asr")["VOICE_URL"] == f"http://{PREFIX}-voice:8000"
    assert out.configmap_env("tts")["CATALOG_URL"] == f"http://{PREFIX}-catalog:8000"
    assert out.configmap_env("webrtc")["CATALOG_URL"] == f"http://{PREFIX}-catalog:8000"


# --- Gateway --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["traefik.yml", "dynamic.yml"])
def test_chart_gateway_files_are_copies_of_gateway(name):
    assert (CHART / "files" / name).read_bytes() == (REPO / "gateway" / name).read_bytes(), (
        f"cp gateway/{name} deploy/k8s/voicefleet/files/{name}"
    )


def test_gateway_runs_the_gateway_config_against_the_services(rendered):
    out = rendered["default"]
    service = out.get("Service", f"{PREFIX}-gateway")
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in service["spec"]["ports"]} == {8124, 8125, 8005}
    deployment = out.get("Deployment", f"{PREFIX}-gateway")
    c = container(deployment)
    assert c["image"] == "traefik:v3.7.15"
    assert {p["containerPort"] for p in c["ports"]} == {8124, 8125, 8005}
    assert c["args"] == ["--configFile=/gateway/traefik.yml"] and c["workingDir"] == "/"
    config = out.get("ConfigMap", f"{PREFIX}-gateway")["data"]
    for name in ("traefik.yml", "dynamic.yml"):
        assert config[name] == (REPO / "gateway" / name).read_text()
    assert {"mountPath": "/gateway", "name": "config", "readOnly": True} in c["volumeMounts"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert set(env) <= dynamic_yml_env()
    assert {f"{s.upper()}_URL" for s in SERVICES} <= set(env)
    for key, value in env.items():
        if key.endswith("_URL"):
            assert urlsplit(value).hostname in out.names("Service"), key
    assert env["MAX_UPLOAD_MB"] == "100"
    assert "Deployment" not in {o["kind"] for o in rendered["production"].objects if "gateway" in o["metadata"]["name"]}


def test_ingressroutes_reproduce_the_gateway_routes(rendered):
    out = rendered["production"]
    routes = {
        entry: out.get("IngressRoute", f"{PREFIX}-{entry}")["spec"]["routes"] for entry in ("main", "bridge", "speech")
    }
    hosts = {"main": "voice.example.com", "bridge": "", "speech": "speech.example.com"}
    middlewares = {m["metadata"]["name"] for m in out.of("Middleware")}
    expected = 0
    for router, spec in dynamic_yml_routers().items():
        for entry in spec["entryPoints"]:
            expected += 1
            match = f"Host(`{hosts[entry]}`) && ({spec['rule']})" if hosts[entry] else spec["rule"]
            found = [r for r in routes[entry] if r["match"] == match]
            assert len(found) == 1, (router, entry)
            (route,) = found
            (backend,) = route["services"]
            assert backend["name"] == f"{PREFIX}-{spec['service']}" and backend["port"] == 8000
            assert [m["name"] for m in route["middlewares"]] == [f"{PREFIX}-{m}" for m in spec.get("middlewares", [])]
            assert {m["name"] for m in route["middlewares"]} <= middlewares
            assert ("sticky" in backend) == (spec["service"] == "webrtc"), router
    assert sum(len(r) for r in routes.values()) == expected
    assert out.get("IngressRoute", f"{PREFIX}-bridge")["spec"]["entryPoints"] == ["bridge"]
    limit = out.get("Middleware", f"{PREFIX}-upload-limit")["spec"]["buffering"]
    assert limit["maxRequestBodyBytes"] == 100 * 1048576
    assert rendered["default"].of("IngressRoute") == [] and rendered["default"].of("Middleware") == []


# --- Scaling --------------------------------------------------------------------------------------------------


def _min_pods(out: Rendered, deployment: dict) -> int:
    hpas = [
        h
        for h in out.of("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    ]
    return hpas[0]["spec"]["minReplicas"] if hpas else deployment["spec"]["replicas"]


def test_pdbs_exactly_for_components_with_several_pods(variant):
    _, out = variant
    pdbs = {p["metadata"]["name"]: p for p in out.of("PodDisruptionBudget")}
    for deployment in out.of("Deployment"):
        name = deployment["metadata"]["name"]
        if name.endswith("-redis"):
            continue
        if _min_pods(out, deployment) > 1:
            assert name in pdbs, name
            assert pdbs[name]["spec"]["minAvailable"] == 1
            assert pdbs[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        else:
            assert name not in pdbs, name
    assert set(pdbs) <= out.names("Deployment")


def test_production_scales_out(rendered):
    out = rendered["production"]
    assert out.get("Deployment", f"{PREFIX}-voice")["spec"]["replicas"] == 2
    assert out.get("Deployment", f"{PREFIX}-webrtc")["spec"]["replicas"] == 2
    assert {p["metadata"]["name"] for p in out.of("PodDisruptionBudget")} == {
        f"{PREFIX}-{s}" for s in ("voice", "webrtc", "voicechat", "catalog")
    }
    assert (
        rendered["default"].of("PodDisruptionBudget") == [] and rendered["default"].of("HorizontalPodAutoscaler") == []
    )


def test_hpas_target_existing_deployments(rendered):
    for variant, expected in (
        ("production", {"voicechat", "catalog"}),
        ("all-autoscaled", {"voicechat", "webrtc", "catalog"}),
    ):
        out = rendered[variant]
        hpas = out.of("HorizontalPodAutoscaler")
        assert {h["metadata"]["labels"]["app.kubernetes.io/component"] for h in hpas} == expected
        for hpa in hpas:
            target = hpa["spec"]["scaleTargetRef"]
            assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
            deployment = out.get("Deployment", target["name"])
            assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
            assert container(deployment)["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
            assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
            assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_reference_recordings_are_catalogs_alone(rendered):
    """Only the models claim is shared between services: tts fetches cloning speakers' recordings from catalog
    over HTTP, so it mounts no catalog data (its /data is an emptyDir)."""
    for variant in ("default", "production"):
        out = rendered[variant]
        mounted = {
            component: {v.get("persistentVolumeClaim", {}).get("claimName") for v in pod_spec(deployment)["volumes"]}
            for component, deployment in out.service_deployments().items()
        }
        users = {
            claim: sorted(c for c, names in mounted.items() if claim in names)
            for claim in out.names("PersistentVolumeClaim")
        }
        assert users[f"{PREFIX}-catalog-data"] == ["catalog"], variant
        assert [claim for claim, who in users.items() if len(who) > 1] == [f"{PREFIX}-models"], variant
        tts = {v["name"]: v for v in pod_spec(out.get("Deployment", f"{PREFIX}-tts"))["volumes"]}
        assert tts["data"] == {"name": "data", "emptyDir": {}}


def test_volumes_and_update_strategy(rendered):
    """/data and /models are the configured claims; RWO claims are replaced (Recreate), RWX ones rolled."""
    for variant in ("default", "production"):
        out = rendered[variant]
        claims = out.names("PersistentVolumeClaim")
        for deployment in out.service_deployments().values():
            volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
            assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
            for mount in ("data", "models"):
                if "persistentVolumeClaim" in volumes[mount]:
                    assert volumes[mount]["persistentVolumeClaim"]["claimName"] in claims
        voice = pod_spec(out.get("Deployment", f"{PREFIX}-voice"))["volumes"]
        assert {"name": "data", "persistentVolumeClaim": {"claimName": f"{PREFIX}-voice-data"}} in voice
        assert {"name": "models", "persistentVolumeClaim": {"claimName": f"{PREFIX}-models"}} in voice
    default, production = rendered["default"], rendered["production"]
    assert default.get("Deployment", f"{PREFIX}-voice")["spec"]["strategy"] == {"type": "Recreate"}
    assert "strategy" not in production.get("Deployment", f"{PREFIX}-voice")["spec"]
    assert "strategy" not in default.get("Deployment", f"{PREFIX}-voicechat")["spec"]
    for claim in production.of("PersistentVolumeClaim"):
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim["spec"]["storageClassName"] == "nfs-client"
    assert "ReadWriteMany" not in production.notes and "NOTE: persistence.models" in default.notes
