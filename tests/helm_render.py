"""The Helm chart (deploy/k8s/voicefleet), offline, for the test_helm_* modules: rendered and linted by Helm's Go SDK
(helm-python-sdk, the equivalent of `helm template` + `helm lint`) in each variant of values, with the helpers and
fixtures (`chart`, `rendered`, `variant`; a pytest plugin of tests/conftest.py) that check the rendered objects
against the code they deploy: settings classes, gateway/ files, health endpoints. Nothing starts a service or needs
a cluster."""

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from helm_python.chart import Chart

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "deploy" / "k8s" / "voicefleet"
K8S_VERSION = "1.33.0"
RELEASE, NAMESPACE = "vf", "voice"
PREFIX = f"{RELEASE}-voicefleet"
sys.path.insert(0, str(REPO / "deploy"))
from service_settings import SERVICES, setting_names, settings_class  # noqa: E402, F401 (the test_helm_* modules use them)

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
