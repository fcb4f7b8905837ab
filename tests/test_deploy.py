"""The container deployment, checked offline: the compose files against the Compose Specification schema,
compose, Procfile, gateway and Dockerfiles against each other and against the settings classes (so they
cannot drift apart), deploy/.env.example against the settings, and every Dockerfile through hadolint."""

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "deploy"))
import env_example  # noqa: E402
from service_settings import SERVICES, setting_names  # noqa: E402

DEPLOY = REPO / "deploy"
GPU_SERVICES = ("asr", "tts", "voice")
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: `!reset` (an override dropping a value) becomes RESET."""


RESET = object()
ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)


def load_compose(name: str) -> dict:
    return yaml.load((DEPLOY / name).read_text(), Loader=ComposeLoader)


def merge(base: object, override: object) -> object:
    """Compose's merge of an override file into a base for the keys used here (mappings merge, the rest
    is replaced, `!reset` removes)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is RESET:
                merged.pop(key, None)
            else:
                merged[key] = merge(base.get(key), value)
        return merged
    return override


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    schema = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(schema.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose("docker-compose.yml")


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def dockerfile(service: str) -> str:
    return (DEPLOY / "docker" / f"{service}.Dockerfile").read_text()


def stage(text: str, name: str) -> str:
    """The instructions of one build stage."""
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", text, re.M | re.S)
    assert match, f"no stage {name!r}"
    return match.group(1)


def test_compose_files_follow_the_compose_specification(compose: dict, compose_schema: dict) -> None:
    jsonschema.validate(compose, compose_schema)
    cpu = merge(compose, load_compose("docker-compose.cpu.yml"))
    jsonschema.validate(cpu, compose_schema)
    for service in GPU_SERVICES:
        assert compose["services"][service]["deploy"]["resources"]["reservations"]["devices"] == [
            {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
        ]
        assert compose["services"][service]["build"]["target"] == "gpu"
        assert "deploy" not in cpu["services"][service]
        assert cpu["services"][service]["build"]["target"] == "cpu"
        assert not cpu["services"][service]["image"].endswith("-gpu")
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        jsonschema.validate(merge(compose, {"services": {"asr": {"gpu": True}}}), compose_schema)


def test_compose_runs_every_process_of_the_procfile_with_shared_state(compose: dict) -> None:
    assert set(procfile()) | {"postgres", "redis"} == set(compose["services"])
    volumes = {name: compose["services"][name].get("volumes", []) for name in compose["services"]}
    assert "voice-data:/data" in volumes["voice"] and "models:/models" in volumes["asr"]
    # The reference recordings are catalog's alone: tts asks catalog for them over HTTP.
    assert [name for name, mounts in volumes.items() if any(m.startswith("speaker-audio:") for m in mounts)] == [
        "catalog"
    ]
    assert "SPEAKER_AUDIO_DIR" not in compose["services"]["tts"]["environment"]
    for service in ("voice", "catalog"):
        assert "@postgres:5432/" in compose["services"][service]["environment"]["DATABASE_URL"]
    for service in SERVICES:
        assert compose["services"][service]["environment"]["REDIS_URL"].endswith("redis://redis:6379/0}")


@pytest.mark.parametrize("service", SERVICES)
def test_service_command_port_and_environment_agree(service: str, compose: dict) -> None:
    """Procfile, Dockerfile, compose and gateway name the same app and port, and compose sets only
    variables the service's settings class reads."""
    app = re.search(
        r"uvicorn (services\.\w+\.main:app) .*--port \$\{(\w+)_PORT:-(\d+)\} --no-server-header(.*)$",
        procfile()[service],
    )
    assert app, procfile()[service]
    module, port_variable, local_port, options = app.groups()  # options: e.g. --ws-max-size, in both
    text = dockerfile(service)
    commands = re.findall(r"^CMD (.*)$", text, re.M)
    expected = ["uvicorn", module, "--host", "0.0.0.0", "--port", "8000", "--no-server-header", *options.split()]
    assert commands and all(json.loads(cmd) == expected for cmd in commands), (commands, expected)
    assert re.findall(r"^EXPOSE (\d+)$", text, re.M) == ["8000"] * len(commands)
    assert compose["services"]["gateway"]["environment"][f"{service.upper()}_URL"] == f"http://{service}:8000"
    gateway = (REPO / "gateway" / "dynamic.yml").read_text()
    assert f'(env "{port_variable}_PORT" | default "{local_port}")' in gateway
    environment = set(compose["services"][service].get("environment", {}))
    unknown = environment - setting_names(service)
    assert not unknown, f"{service} does not read {sorted(unknown)}"


def test_every_variable_is_documented_in_env_example(compose: dict) -> None:
    example = (DEPLOY / ".env.example").read_text()
    assert example == env_example.render(), "deploy/.env.example is stale: run `make env-example`"
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    for service in SERVICES:
        assert setting_names(service) <= documented
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY / "docker-compose.yml").read_text()))
    assert interpolated <= documented, sorted(interpolated - documented)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.stem)
def test_dockerfiles_lint_clean(path: Path) -> None:
    lint = subprocess.run(
        [str(REPO / ".venv/bin/hadolint"), "--config", str(REPO / ".hadolint.yaml"), str(path)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.stem)
def test_dockerfiles_are_pinned_multi_stage_non_root_with_a_healthcheck(path: Path) -> None:
    text = path.read_text()
    bases = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, re.M)
    assert bases and all(re.search(r":v?\d+\.\d+\.\d+", image) for image in bases), bases
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    final_stages = ["cpu", "gpu"] if path.stem in GPU_SERVICES else ["cpu"]
    for name in final_stages:
        body = stage(text, name)
        assert re.search(r"^USER 10001:10001$", body, re.M)
        assert "HEALTHCHECK" in body
        assert "--from=build" in body  # nothing is built in the final stage
    extra = re.search(r'pip install (?:--python \S+ )?"\.\[(\w+)', text).group(1)
    assert extra == path.stem  # only the service's own dependency group


@pytest.mark.parametrize("service", GPU_SERVICES)
def test_gpu_images_carry_cuda_torch_and_onnxruntime_gpu(service: str) -> None:
    text = dockerfile(service)
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+-cudnn-runtime-", text, re.M)
    build = stage(text, "build-gpu")
    assert "download.pytorch.org/whl/cu" in build and "torchaudio==" in build
    # The ONNX models (Silero VAD, AASIST, Piper, Kokoro, user classifiers) run on CUDA.
    assert "uninstall --python /opt/venv/bin/python onnxruntime" in build and "onnxruntime-gpu==" in build
    assert re.match(r"FROM \$\{CUDA_IMAGE\}", re.search(r"^FROM .* AS gpu$", text, re.M).group(0))
