"""The Helm chart rendered and linted, its values schema, every manifest valid against the Kubernetes schemas,
and each workload's probes, resources and devices (shared rendering in tests/helm_render.py)."""

import copy
import json
import re

import jsonschema
import kubernetes_validate
import pytest
from helm_python.chart import lint
from helm_python.errors import HelmValuesError

from tests.helm_render import (
    CHART,
    GPU_DEVICES,
    K8S_VERSION,
    NAMESPACE,
    PREFIX,
    RELEASE,
    REPO,
    SERVICES,
    TRAEFIK_SCHEMAS,
    VARIANTS,
    container,
    load_values_schema,
    pod_spec,
)


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
