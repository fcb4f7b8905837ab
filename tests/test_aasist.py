"""AASIST anti-spoofing: strict checkpoint loading, the fixed sinc front end, ONNX export parity on
real clips, refusal of files that are not AASIST checkpoints, and the offline code kept out of the
services."""

import ast
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tests.conftest import DATA, REPO
from tools.antispoof.aasist import Aasist, AasistConfig, bonafide_probability, fit_window, load_aasist
from tools.antispoof.export import ExportReport, export_onnx, load_clip, main, sha256_of
from tools.antispoof.layers import sinc_filterbank

MODELS = REPO.parent / "shared" / "models" / "aasist"
CHECKPOINT = MODELS / "AASIST.pth"
CHECKPOINT_L = MODELS / "AASIST-L.pth"
SPOOF_CLIPS = sorted((DATA / "spoof").glob("*.wav"))
NB_SAMP = 64600
TOLERANCE = 1e-4
# The tests that load a checkpoint are `service` tests (a real model); the PyTorch forward passes on
# real clips and the ONNX export (about 30 s) are also `slow`: the export is offline tooling that
# `make antispoof-model` runs, and `make test` runs them.

# Logits of the public reference implementation (clovaai/aasist, models/AASIST.py) for these clips,
# first 64600 samples with tiling, computed once on CPU; rows are (spoof, bona fide).
REFERENCE_LOGITS = {
    "AASIST": {
        "spoof/en_stp_human_cancel_timer.wav": (4.2363973, -4.3403144),
        "spoof/en_stp_tts_resume_the_timer.wav": (-1.1884209, 0.2361515),
        "speaker/libri_testother_2033_2033-164914-0000.flac": (-5.5976548, 3.5229783),
    },
    "AASIST-L": {
        "spoof/en_stp_human_cancel_timer.wav": (3.2616024, -2.7799096),
        "spoof/en_stp_tts_resume_the_timer.wav": (0.9739163, -0.3640826),
        "speaker/libri_testother_2033_2033-164914-0000.flac": (-1.0104581, 1.5173082),
    },
}
# Clean read speech (LibriSpeech, two speakers) that AASIST scores as clearly bona fide.
LIBRI_BONAFIDE = [
    f"speaker/libri_testother_{speaker}-{index:04d}.flac"
    for speaker in ("2033_2033-164914", "2414_2414-128291")
    for index in range(3)
]


def windows(relative_paths: list[str]) -> np.ndarray:
    return np.stack([fit_window(load_clip(DATA / path), NB_SAMP) for path in relative_paths])


@pytest.fixture(scope="module")
def model() -> Aasist:
    assert CHECKPOINT.is_file(), f"AASIST checkpoint not found at {CHECKPOINT}"
    return load_aasist(CHECKPOINT)


@pytest.fixture(scope="module")
def spoof_batch() -> np.ndarray:
    assert len(SPOOF_CLIPS) == 10, f"expected the 10 clips of {DATA / 'spoof'}"
    return np.stack([fit_window(load_clip(path), NB_SAMP) for path in SPOOF_CLIPS])


@pytest.fixture(scope="module")
def exported(model: Aasist, spoof_batch: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> ExportReport:
    output = tmp_path_factory.mktemp("onnx") / "aasist.onnx"
    return export_onnx(CHECKPOINT, output, clips=list(spoof_batch[:2]))


def test_config_from_file() -> None:
    config = AasistConfig.from_file(MODELS / "AASIST.conf")
    assert config.nb_samp == NB_SAMP
    assert config.first_conv == 128
    assert config.sinc_filters == 70
    assert config.encoder_channels == [(1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)]
    assert config.gat_dims == (64, 32)
    assert config.pool_ratios == (0.5, 0.7, 0.5, 0.5)
    assert config.temperatures == (2.0, 2.0, 100.0, 100.0)
    assert config.spectral_nodes == 23
    assert AasistConfig.from_file(MODELS / "AASIST-L.conf").gat_dims == (24, 32)


@pytest.mark.service
def test_strict_load_keeps_every_checkpoint_tensor(model: Aasist) -> None:
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    loaded = model.state_dict()
    assert not model.training
    assert set(loaded) == set(state)
    for key, tensor in state.items():
        assert torch.equal(loaded[key], tensor), key
    # The sinc filters are computed, never loaded: they must not appear in the state dict.
    assert not any(key.startswith("conv_time") for key in loaded)
    assert tuple(model.conv_time.filters.shape) == (70, 1, 129)


def test_sinc_filters_are_hamming_windowed_mel_band_passes() -> None:
    bank = sinc_filterbank(70, 129).double().numpy()
    mel_max = 2595 * np.log10(1 + 8000 / 700)
    edges = 700 * (10 ** (np.linspace(0, mel_max, 71) / 2595) - 1)
    taps = np.arange(-64, 65)
    ideal = (2 * edges[1:, None] / 16000) * np.sinc(2 * edges[1:, None] * taps / 16000) - (
        2 * edges[:-1, None] / 16000
    ) * np.sinc(2 * edges[:-1, None] * taps / 16000)
    np.testing.assert_allclose(bank, ideal * np.hamming(129), atol=1e-7)
    np.testing.assert_allclose(bank, bank[:, ::-1], atol=1e-9)  # linear phase
    # Peak of each band's frequency response at its band centre (bands wide enough to resolve).
    response = np.abs(np.fft.rfft(bank, 16384, axis=1))
    peaks = np.fft.rfftfreq(16384, 1 / 16000)[response.argmax(axis=1)]
    centres = (edges[1:] + edges[:-1]) / 2
    np.testing.assert_allclose(peaks[8:69], centres[8:69], atol=5.0)


@pytest.mark.service
@pytest.mark.slow
def test_matches_reference_implementation_logits(model: Aasist) -> None:
    clips = windows(list(REFERENCE_LOGITS["AASIST"]))
    with torch.inference_mode():
        logits = model(torch.from_numpy(clips)).numpy()
    np.testing.assert_allclose(logits, np.array(list(REFERENCE_LOGITS["AASIST"].values())), atol=1e-3)

    light = load_aasist(CHECKPOINT_L)
    with torch.inference_mode():
        logits_l = light(torch.from_numpy(clips)).numpy()
    np.testing.assert_allclose(logits_l, np.array(list(REFERENCE_LOGITS["AASIST-L"].values())), atol=1e-3)


@pytest.mark.service
@pytest.mark.slow
def test_clean_read_speech_scores_bona_fide(model: Aasist) -> None:
    with torch.inference_mode():
        probability = bonafide_probability(model(torch.from_numpy(windows(LIBRI_BONAFIDE)))).numpy()
    assert (probability > 0.9).all(), probability


@pytest.mark.service
@pytest.mark.slow
def test_onnx_export_matches_pytorch_on_real_clips(
    model: Aasist, spoof_batch: np.ndarray, exported: ExportReport
) -> None:
    path = exported.path
    assert exported.exporter in ("dynamo", "torchscript")
    assert exported.max_abs_diff < TOLERANCE
    assert exported.opset >= 17
    assert [p.name for p in path.parent.iterdir()] == ["aasist.onnx"]  # one file: no external data, no temp
    assert exported.sha256 == sha256_of(path)
    assert exported.size_bytes == path.stat().st_size

    proto = onnx.load(str(path), load_external_data=False)
    onnx.checker.check_model(proto)
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in proto.graph.initializer)
    metadata = {entry.key: entry.value for entry in proto.metadata_props}
    assert metadata["nb_samp"] == str(NB_SAMP)
    assert metadata["source"] == "AASIST.pth"
    (waveform,) = proto.graph.input
    batch_dim, samples_dim = waveform.type.tensor_type.shape.dim
    assert waveform.name == "waveform" and batch_dim.dim_param and samples_dim.dim_value == NB_SAMP
    assert [output.name for output in proto.graph.output] == ["logits"]

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {"waveform": spoof_batch})  # all 10 clips in one batch
    with torch.inference_mode():
        torch_logits = model(torch.from_numpy(spoof_batch)).numpy()
    assert onnx_logits.shape == torch_logits.shape == (10, 2)
    assert np.abs(onnx_logits - torch_logits).max() < TOLERANCE
    # The clips are not all scored alike: the export is not a constant function.
    assert np.ptp(torch_logits[:, 1]) > 1.0


@pytest.mark.service
def test_aasist_l_loads_and_runs() -> None:
    light = load_aasist(CHECKPOINT_L)
    assert light.config.gat_dims == (24, 32)
    assert light.pool_S.kept(23) == 9 and light.pool_hT1.kept(14) == 9
    with torch.inference_mode():
        logits = light(torch.from_numpy(windows(["spoof/en_stp_human_next.wav"])))
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()


def test_fit_window_tiles_short_clips_and_cuts_long_ones() -> None:
    short = np.arange(1, 4, dtype=np.float32)
    np.testing.assert_array_equal(fit_window(short, 7), [1, 2, 3, 1, 2, 3, 1])
    np.testing.assert_array_equal(fit_window(np.arange(10, dtype=np.float32), 4), [0, 1, 2, 3])
    with pytest.raises(ValueError):
        fit_window(np.zeros(0, dtype=np.float32), 4)


@pytest.mark.service
def test_refuses_files_that_are_not_aasist_checkpoints(tmp_path: Path) -> None:
    config = MODELS / "AASIST.conf"
    random_state = tmp_path / "random.pth"
    torch.save({"encoder.weight": torch.randn(8, 8), "out.bias": torch.randn(2)}, random_state)
    with pytest.raises(ValueError, match="not an AASIST state dict"):
        load_aasist(random_state, config)

    truncated = tmp_path / "truncated.pth"
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    del state["out_layer.bias"]
    torch.save(state, truncated)
    with pytest.raises(ValueError, match="out_layer.bias"):
        load_aasist(truncated, config)

    not_torch = tmp_path / "notes.pth"
    not_torch.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(ValueError, match="not a PyTorch state dict"):
        load_aasist(not_torch, config)

    a_list = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], a_list)
    with pytest.raises(ValueError, match="mapping of names to tensors"):
        load_aasist(a_list, config)

    # AASIST-L weights with the AASIST config: same keys, other shapes.
    with pytest.raises(ValueError, match="does not match the dimensions"):
        load_aasist(CHECKPOINT_L, config)


def test_export_command_fails_cleanly_on_a_bad_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"weight": torch.randn(3, 3)}, bad)
    output = tmp_path / "out" / "aasist.onnx"
    code = main(["--checkpoint", str(bad), "--config", str(MODELS / "AASIST.conf"), "--output", str(output)])
    assert code == 1
    assert "not an AASIST state dict" in capsys.readouterr().err
    assert not output.exists()


def top_level_imports(path: Path) -> set[str]:
    """The top-level package of every module `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_services_import_no_offline_tool_and_the_scorer_no_torch() -> None:
    imports = {path.relative_to(REPO): top_level_imports(path) for path in (REPO / "services").rglob("*.py")}
    assert not [str(path) for path, packages in imports.items() if "tools" in packages]
    antispoof = [path for path in imports if path.parts[:3] == ("services", "voice", "antispoof")]
    assert len(antispoof) >= 3, antispoof  # __init__, quality, runtime
    assert not [str(path) for path in antispoof if "torch" in imports[path]]
