"""The Helm chart's links and routes: services point at rendered services, the gateway and IngressRoutes reproduce
gateway/, scaling, disruption budgets and volumes (shared rendering in tests/helm_render.py)."""

from urllib.parse import urlsplit

import pytest

from tests.helm_render import (
    CHART,
    PREFIX,
    REPO,
    SERVICES,
    Rendered,
    container,
    dynamic_yml_env,
    dynamic_yml_routers,
    pod_spec,
)


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
