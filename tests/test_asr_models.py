"""Model resolution: clear errors for bad ASR_MODEL values, and the embedded model's checks."""

import json
from pathlib import Path

import pytest

from services.asr.models import (
    EMBEDDED_MODELS,
    ModelResolutionError,
    assemble_embedded,
    load_asr_model,
    resolve_model_path,
    solo_threads,
)
from services.asr.settings import AsrSettings
from services.common.errors import ModelUnavailable
from services.common.models import LoadedModel


def settings(tmp_path: Path, model: str) -> AsrSettings:
    return AsrSettings(asr_model=model, model_cache_dir=tmp_path / "cache")


def test_embedded_model_is_assembled_once_and_verified(tmp_path: Path) -> None:
    first = assemble_embedded(EMBEDDED_MODELS["whisper-base"], tmp_path)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in first.iterdir()}
    mtime = (first / "model.bin").stat().st_mtime_ns
    again = assemble_embedded(EMBEDDED_MODELS["whisper-base"], tmp_path)
    assert again == first and (again / "model.bin").stat().st_mtime_ns == mtime


def test_a_damaged_embedded_model_is_refused(tmp_path: Path) -> None:
    spec = EMBEDDED_MODELS["whisper-base"]
    broken = type(spec)(**{**vars(spec), "sha256": "0" * 64})
    with pytest.raises(ModelResolutionError, match="checksum"):
        assemble_embedded(broken, tmp_path)
    assert not (tmp_path / spec.name).exists()


def test_unknown_embedded_name(tmp_path: Path) -> None:
    with pytest.raises(ModelResolutionError, match="unknown embedded model"):
        resolve_model_path(settings(tmp_path, "embedded:whisper-huge"))


def test_directory_that_is_not_ctranslate2(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({}))
    with pytest.raises(ModelResolutionError, match="missing model.bin"):
        resolve_model_path(settings(tmp_path, str(tmp_path)))


def test_transformers_checkpoint_gets_a_conversion_hint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0")
    with pytest.raises(ModelResolutionError, match="ct2-transformers-converter"):
        resolve_model_path(settings(tmp_path, str(tmp_path)))


def test_hub_ids_pass_through_to_faster_whisper(tmp_path: Path) -> None:
    assert resolve_model_path(settings(tmp_path, "my-org/whisper-vi-ct2")) == "my-org/whisper-vi-ct2"


def test_a_model_that_cannot_load_is_reported_not_faked(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    model = LoadedModel("ASR model", str(tmp_path))
    model.load(lambda: load_asr_model(settings(tmp_path, str(tmp_path))))
    assert model.settled and model.value is None
    assert "missing model.bin" in model.status()["error"]
    with pytest.raises(ModelUnavailable, match="ASR model unavailable"):
        model.get()


def test_a_model_still_loading_answers_503_with_retry_after() -> None:
    model: LoadedModel[object] = LoadedModel("ASR model", "embedded:whisper-base")
    assert not model.settled and model.status()["state"] == "loading"
    with pytest.raises(ModelUnavailable, match="still loading") as raised:
        model.get()
    assert raised.value.headers["Retry-After"] == "5"
    model.load(object)
    assert model.get() is not None and "load_seconds" in model.status()


def test_a_solo_copy_only_where_it_has_more_threads_than_a_worker() -> None:
    """ASR_SOLO_THREADS=1 (or no more than ASR_CPU_THREADS) loads no solo copy; 0 means every CPU."""
    assert solo_threads(AsrSettings(asr_solo_threads=1)) == 0
    assert solo_threads(AsrSettings(asr_solo_threads=4, asr_cpu_threads=4)) == 0
    assert solo_threads(AsrSettings(asr_solo_threads=4, asr_cpu_threads=1)) == 4
