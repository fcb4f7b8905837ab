"""Writes the Helm chart's values.schema.json from the services' settings classes.

    python deploy/k8s/values_schema.py          # after adding, renaming or removing a setting

Each service's `env` accepts exactly the settings of its class (services/<service>/settings.py; upper-case, as the
environment names them), with their descriptions, types and bounds, so `helm install/upgrade/lint/template`
reject a misspelt or removed setting. Secrets are left out of every `env` (they come from the Secret), and so
are the settings the chart sets itself. tests/test_helm_chart.py fails when the file is not what this writes.
"""

import json
import re
import sys
from pathlib import Path

from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from service_settings import SERVICES, settings_class  # noqa: E402
from setting_schema import field_schema  # noqa: E402

from services.common.settings import ServiceSettings  # noqa: E402

CHART = ROOT / "deploy" / "k8s" / "voicefleet"
SCHEMA_FILE = CHART / "values.schema.json"

# Only ever read from the Secret (secretEnv); every SecretStr setting must be one of them.
SECRET_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "LLM_API_KEY",
    "ICE_SERVERS",
    "TURN_SECRET",
    "HF_TOKEN",
    "SERVICE_TOKEN",
    "ADMIN_API_KEY",
)
# Set by the chart: the volumes' mount points, and webrtc's own address (the pod IP).
CHART_ENV = ("DATA_DIR", "MODEL_CACHE_DIR", "REPLICA_URL")
LOCAL_LLM = ROOT / "deploy" / "local_llm.py"


def local_llm_env() -> list[str]:
    """The variables deploy/local_llm.py reads (it has no settings class)."""
    return sorted(set(re.findall(r'os\.environ\.get\("(LOCAL_LLM_[A-Z_]+)"', LOCAL_LLM.read_text())))


def env_fields(cls: type) -> dict[str, FieldInfo]:
    """The settings of `cls` a values file may set in `env`, by environment name."""
    fields = {name.upper(): field for name, field in cls.model_fields.items()}
    for name, field in fields.items():
        if "SecretStr" in repr(field.annotation) and name not in SECRET_ENV:
            raise SystemExit(f"{cls.__name__}.{name.lower()} is a SecretStr: add {name} to SECRET_ENV")
    return {name: field for name, field in sorted(fields.items()) if name not in SECRET_ENV + CHART_ENV}


def env_schema(fields: dict[str, FieldInfo]) -> dict:
    return {
        "type": "object",
        "description": "Settings of the service (environment variables), rendered into its ConfigMap.",
        "properties": {name: field_schema(field) for name, field in fields.items()},
        "additionalProperties": False,
    }


ANY_OBJECT = {"type": "object"}
ANY_ARRAY = {"type": "array"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
SCHEDULING = {"nodeSelector": STRING_MAP, "tolerations": ANY_ARRAY, "affinity": ANY_OBJECT}
SERVICE_TYPE = {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}


def closed(properties: dict, **extra: object) -> dict:
    """An object schema with exactly `properties` (and `extra`, e.g. `required`, after them)."""
    return {"type": "object", "properties": properties, **extra, "additionalProperties": False}


def ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def definitions() -> dict:
    quantity = {"type": ["string", "number"]}
    probe_fields = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold")
    access_modes = ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]
    return {
        "image": closed(
            {
                "repository": {"type": "string", "minLength": 1},
                "tag": {"type": ["string", "number"]},
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
            },
            required=["repository"],
        ),
        "resources": closed(
            {
                "requests": {"type": "object", "additionalProperties": quantity},
                "limits": {"type": "object", "additionalProperties": quantity},
            }
        ),
        "pdb": closed({"enabled": {"type": "boolean"}, "minAvailable": {"type": ["integer", "string"]}}),
        "probe": closed({k: {"type": "integer", "minimum": 0} for k in probe_fields}),
        "probes": closed({k: ref("probe") for k in ("startup", "readiness", "liveness")}),
        "persistence": closed(
            {
                "enabled": {"type": "boolean"},
                "existingClaim": {"type": "string"},
                "storageClass": {"type": "string"},
                "accessModes": {"type": "array", "minItems": 1, "items": {"enum": access_modes}},
                "size": {"type": "string"},
                "keep": {"type": "boolean"},
                "annotations": STRING_MAP,
            }
        ),
        "service": closed({"type": SERVICE_TYPE, "annotations": STRING_MAP}),
        "autoscaling": closed(
            {
                "enabled": {"type": "boolean"},
                "minReplicas": {"type": "integer", "minimum": 1},
                "maxReplicas": {"type": "integer", "minimum": 1},
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1},
                "behavior": ANY_OBJECT,
            }
        ),
        "entryPoint": closed(
            {
                "enabled": {"type": "boolean"},
                "entryPoints": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "host": {"type": "string"},
            }
        ),
    }


def link_schema() -> dict:
    """One `links` entry: a setting set to another service's in-cluster URL."""
    return closed(
        {
            "service": {"enum": [*SERVICES, "llm"]},
            "scheme": {"enum": ["http", "https", "ws", "wss"]},
            "path": {"type": "string"},
        },
        required=["service"],
    )


def gpu_schema(devices: list[str]) -> dict:
    return closed(
        {
            "enabled": {"type": "boolean"},
            "tagSuffix": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "deviceEnv": {"type": "array", "items": {"enum": devices}},
            "nodeSelector": STRING_MAP,
            "tolerations": ANY_ARRAY,
        }
    )


def service_schema(service: str, env: dict, names: list[str], secret: list[str], devices: list[str]) -> dict:
    links = {"propertyNames": {"enum": names}, "additionalProperties": link_schema()} if names else {"maxProperties": 0}
    properties = {
        "enabled": {"type": "boolean"},
        "replicas": {"type": "integer", "minimum": 0},
        "image": ref("image"),
        "command": {"type": "array", "items": {"type": "string"}},
        "sharedSettings": {"type": "boolean"},
        "healthPath": {"type": "string", "pattern": "^/"},
        "readyPath": {"type": "string", "pattern": "^/"},
        "env": env,
        "links": {
            "type": "object",
            "description": "Settings set to the in-cluster URL of another service of the release.",
            **links,
        },
        "secretEnv": {
            "type": "array",
            "uniqueItems": True,
            **({"items": {"enum": secret}} if secret else {"maxItems": 0}),
        },
        "runtimeEnv": STRING_MAP,
        "volumes": closed({"data": {"enum": ["", "voiceData", "catalogData"]}, "models": {"enum": ["", "models"]}}),
        "resources": ref("resources"),
        "pdb": ref("pdb"),
        "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
        "strategy": ANY_OBJECT,
        "service": ref("service"),
        "podAnnotations": STRING_MAP,
        **SCHEDULING,
        "topologySpreadConstraints": ANY_ARRAY,
        "securityContext": ANY_OBJECT,
        "probes": ref("probes"),
        "extraEnv": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "autoscaling": ref("autoscaling"),
    }
    if service == "webrtc":
        properties["podUrlEnv"] = {"enum": ["REPLICA_URL"]}
    if devices:
        properties["gpu"] = gpu_schema(devices)
    return closed(properties, required=["enabled", "image", "resources"])


def service_schemas() -> dict:
    """Every service's values, its `env` from its settings class; the local LLM's from deploy/local_llm.py."""
    services = {}
    for service in SERVICES:
        cls = settings_class(service)
        fields = env_fields(cls)
        every = {n.upper() for n in cls.model_fields}
        secret = [n for n in SECRET_ENV if n in every]
        devices = [n for n in fields if n.endswith("_DEVICE")]
        services[service] = service_schema(service, env_schema(fields), list(fields), secret, devices)
    llm_env = {
        "type": "object",
        "description": "Variables of deploy/local_llm.py.",
        "propertyNames": {"enum": local_llm_env()},
        "additionalProperties": {"type": ["string", "number", "null"]},
    }
    services["llm"] = service_schema("llm", llm_env, [], [], [])
    return services


def secrets_schema() -> dict:
    ice_server = {
        "type": "object",
        "properties": {"urls": {"type": ["string", "array"], "items": {"type": "string"}}},
        "required": ["urls"],
    }
    return closed(
        {
            "existingSecret": {"type": "string"},
            "databaseUrl": {"type": "string", "pattern": "^$|^postgres(ql)?(\\+[a-z0-9]+)?://"},
            "redisUrl": {"type": "string", "pattern": "^$|^(redis|rediss|unix)://"},
            "llmApiKey": {"type": "string"},
            "hfToken": {"type": "string"},
            "iceServers": {"type": "array", "items": ice_server},
            "turnSecret": {"type": "string"},
            "adminApiKey": {"type": "string", "pattern": "^$|^vf_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$"},
            "serviceToken": {"type": "string"},
        }
    )


def gateway_schema() -> dict:
    service = closed(
        {
            "type": SERVICE_TYPE,
            "annotations": STRING_MAP,
            "externalTrafficPolicy": {"enum": ["", "Cluster", "Local"]},
            "loadBalancerSourceRanges": {"type": "array", "items": {"type": "string"}},
        }
    )
    links = {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]*_URL$"},
        "additionalProperties": link_schema(),
    }
    return closed(
        {
            "enabled": {"type": "boolean"},
            "replicas": {"type": "integer", "minimum": 0},
            "image": ref("image"),
            "links": links,
            "service": service,
            "resources": ref("resources"),
            "pdb": ref("pdb"),
            "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
            "podAnnotations": STRING_MAP,
            "topologySpreadConstraints": ANY_ARRAY,
            **SCHEDULING,
        }
    )


def ingress_route_schema() -> dict:
    retry = {"type": "object", "properties": {"attempts": {"type": "integer", "minimum": 1}}, "required": ["attempts"]}
    return closed(
        {
            "enabled": {"type": "boolean"},
            "annotations": STRING_MAP,
            "main": ref("entryPoint"),
            "bridge": ref("entryPoint"),
            "speech": ref("entryPoint"),
            "tls": ANY_OBJECT,
            "stickyCookie": ANY_OBJECT,
            "retry": retry,
        }
    )


def bundled_stores_schema() -> dict:
    """The PostgreSQL and Redis the chart can run for a release that brings neither."""
    auth = closed(
        {
            "username": {"type": "string", "minLength": 1},
            "database": {"type": "string", "minLength": 1},
            "password": {"type": "string"},
        }
    )
    volume = closed(
        {
            "storageClass": {"type": "string"},
            "accessModes": {"type": "array", "items": {"type": "string"}},
            "size": {"type": "string"},
        }
    )
    common = {"enabled": {"type": "boolean"}, "image": ref("image")}
    return {
        "postgresql": closed(
            {**common, "auth": auth, "persistence": volume, "resources": ref("resources"), **SCHEDULING}
        ),
        "redis": closed({**common, "maxmemory": {"type": "string"}, "resources": ref("resources"), **SCHEDULING}),
    }


def build() -> dict:
    service_account = closed({"create": {"type": "boolean"}, "name": {"type": "string"}, "annotations": STRING_MAP})
    volumes = ("models", "voiceData", "catalogData")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "voicefleet Helm chart values",
        "description": "Generated by deploy/k8s/values_schema.py from services/*/settings.py: do not edit by hand.",
        "type": "object",
        "definitions": definitions(),
        "properties": {
            "global": ANY_OBJECT,
            "nameOverride": {"type": "string"},
            "fullnameOverride": {"type": "string"},
            "imagePullSecrets": ANY_ARRAY,
            "serviceAccount": service_account,
            "podSecurityContext": ANY_OBJECT,
            "containerSecurityContext": ANY_OBJECT,
            "commonEnv": env_schema(env_fields(ServiceSettings)),
            "runtimeEnv": STRING_MAP,
            "probes": ref("probes"),
            "preStopSleepSeconds": {"type": "integer", "minimum": 0},
            "secrets": secrets_schema(),
            "persistence": closed({k: ref("persistence") for k in volumes}),
            "services": closed(service_schemas()),
            "gateway": gateway_schema(),
            "ingressRoute": ingress_route_schema(),
            **bundled_stores_schema(),
        },
        "additionalProperties": False,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render())
    print(f"wrote {SCHEMA_FILE.relative_to(ROOT)}")
