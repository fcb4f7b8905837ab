"""Export an AASIST checkpoint to one self-contained ONNX file, verified against PyTorch.

    python -m tools.antispoof.export --checkpoint AASIST.pth [--config AASIST.conf] \
        --output aasist.onnx [--clip speech.wav ...]

The ONNX model takes `waveform` (batch, nb_samp) float32 in [-1, 1] at 16 kHz and returns `logits`
(batch, 2) = (spoof, bona fide); the batch axis is dynamic, the window length fixed. Its metadata
carries `nb_samp` and `source` (the checkpoint's file name), which the onnxruntime scorer reads.

Before the file is published (written to a temporary file beside the output, then renamed), its
logits on real clips (--clip, else the shared test clips when present) are compared with PyTorch's;
a max abs difference of `TOLERANCE` or more fails the export (exit status 1, nothing written).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tools.antispoof.aasist import Aasist, fit_window, load_aasist

logger = logging.getLogger(__name__)

OPSET = 18
TOLERANCE = 1e-4
INPUT_NAME = "waveform"
OUTPUT_NAME = "logits"
MAX_CLIP_S = 600.0
# Clips used for the check when none is given: the shared speech data beside the repository.
DEFAULT_DATA = Path(
    os.environ.get("VOICEFLEET_TEST_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)
DEFAULT_CLIP_GLOBS = ("spoof/*.wav", "speaker/*.flac")


class ExportCheckFailed(RuntimeError):
    """The exported model disagrees with PyTorch."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    sha256: str
    size_bytes: int
    exporter: str
    """"dynamo" (torch.export based) or "torchscript" (the legacy tracer, dynamo=False)."""
    opset: int
    max_abs_diff: float
    clips: int
    seconds: float


def load_clip(path: Path) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at 16 kHz from any audio file PyAV can decode."""
    from services.common.audio import decode_audio

    return decode_audio(Path(path).read_bytes(), max_duration_s=MAX_CLIP_S)


def default_clips(limit: int = 4) -> list[Path]:
    """A few real speech clips from the shared data directory, if it exists."""
    found: list[Path] = []
    for pattern in DEFAULT_CLIP_GLOBS:
        found.extend(sorted(DEFAULT_DATA.glob(pattern)))
    return found[:limit]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _export_to(model: Aasist, example: torch.Tensor, target: Path, opset: int) -> str:
    """Write `model` to `target` (the exporter may add external data files beside it).

    Tries the dynamo exporter first and falls back to the TorchScript one; returns which worked.
    """
    names = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME], "opset_version": opset}
    try:
        torch.onnx.export(
            model,
            (example,),
            str(target),
            **names,
            dynamo=True,
            external_data=False,
            verbose=False,
            dynamic_shapes={"waveform": {0: torch.export.Dim("batch", min=1, max=1024)}},
        )
        return "dynamo"
    except Exception as exc:  # the dynamo exporter fails in many ways; the legacy one is the fallback
        logger.warning("dynamo ONNX export failed (%s: %s); retrying with dynamo=False", type(exc).__name__, exc)
    for leftover in target.parent.iterdir():  # partial output of the failed attempt
        if leftover.is_file():
            leftover.unlink()
    torch.onnx.export(
        model,
        (example,),
        str(target),
        **names,
        dynamo=False,
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
    )
    return "torchscript"


def _max_abs_diff(model: Aasist, onnx_path: Path, batch: np.ndarray) -> float:
    """Max abs difference of the logits of PyTorch and onnxruntime on `batch`, one clip per run and
    the whole batch at once (which exercises the dynamic batch axis)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(torch.from_numpy(batch)).numpy()
    (together,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    single = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: row[None]})[0] for row in batch])
    if not (np.isfinite(expected).all() and np.isfinite(together).all()):
        raise ExportCheckFailed("non-finite logits")
    return float(max(np.abs(together - expected).max(), np.abs(single - expected).max()))


def export_onnx(
    checkpoint: Path,
    output: Path,
    *,
    config: Path | None = None,
    clips: Sequence[np.ndarray] | None = None,
    opset: int = OPSET,
    tolerance: float = TOLERANCE,
) -> ExportReport:
    """Export `checkpoint` to the single ONNX file `output`, checked on `clips` (16 kHz audio).

    Without clips, real ones from the shared data directory are used when present, else a
    synthetic harmonic signal. Raises ExportCheckFailed (and writes nothing) when the ONNX logits
    differ from PyTorch's by `tolerance` or more.
    """
    started = time.perf_counter()
    checkpoint, output = Path(checkpoint), Path(output)
    model = load_aasist(checkpoint, config)
    batch = _check_batch(clips, model.config.nb_samp)
    exporter, proto = _onnx_proto(model, batch, checkpoint.name, opset)
    diff = _publish_if_close(proto, model, batch, output, tolerance)
    return ExportReport(
        path=output,
        sha256=sha256_of(output),
        size_bytes=output.stat().st_size,
        exporter=exporter,
        opset=_onnx_opset(proto),
        max_abs_diff=diff,
        clips=len(batch),
        seconds=time.perf_counter() - started,
    )


def _check_batch(clips: Sequence[np.ndarray] | None, nb_samp: int) -> np.ndarray:
    """(N, nb_samp) windows of the clips the export is checked on: `clips`, else the shared real ones,
    else a synthetic signal."""
    if clips is None:
        paths = default_clips()
        clips = [load_clip(path) for path in paths] if paths else [_synthetic_clip(nb_samp)]
        if not paths:
            logger.warning("no real clip found under %s; checking the export on a synthetic signal", DEFAULT_DATA)
    if not clips:
        raise ValueError("need at least one clip to check the export")
    return np.stack([fit_window(clip, nb_samp) for clip in clips])


def _onnx_proto(model: Aasist, batch: np.ndarray, source: str, opset: int) -> tuple[str, object]:
    """The exported model in memory, with its weights inside and the metadata the scorer reads;
    returns (exporter, proto)."""
    import onnx

    example = torch.from_numpy(np.concatenate([batch, batch])[:2])  # batch of 2: no 0/1 specialisation
    with tempfile.TemporaryDirectory(prefix="aasist-onnx-") as workdir:
        raw = Path(workdir) / "model.onnx"
        exporter = _export_to(model, example, raw, opset)
        proto = onnx.load(str(raw), load_external_data=True)  # pulls in any external data files
    del proto.metadata_props[:]
    for key, value in {"nb_samp": str(model.config.nb_samp), "source": source, "sample_rate": "16000"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return exporter, proto


def _publish_if_close(proto: object, model: Aasist, batch: np.ndarray, output: Path, tolerance: float) -> float:
    """Write `proto` beside `output`, compare its logits with PyTorch's on `batch`, and rename it to
    `output` only when they agree within `tolerance`; returns the max abs difference."""
    import onnx

    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        onnx.save_model(proto, str(temp), save_as_external_data=False)
        temp.chmod(0o644)  # mkstemp creates it private; the model is not a secret
        diff = _max_abs_diff(model, temp, batch)
        if not diff < tolerance:
            raise ExportCheckFailed(f"ONNX logits differ from PyTorch by {diff:.3g} (tolerance {tolerance:g})")
        os.replace(temp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return diff


def _onnx_opset(proto: object) -> int:
    return max(entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx"))  # type: ignore[attr-defined]


def _synthetic_clip(samples: int) -> np.ndarray:
    """Voiced-speech-like stand-in: a gliding harmonic series with a syllable envelope and noise."""
    rng = np.random.default_rng(0)
    t = np.arange(samples) / 16_000
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16_000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    return (0.1 * voiced * envelope + 0.003 * rng.standard_normal(samples)).astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="AASIST state dict (.pth)")
    parser.add_argument("--config", type=Path, help="model config (.conf); default: beside the checkpoint")
    parser.add_argument("--output", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--clip", type=Path, action="append", help="audio file to check the export on (repeatable)")
    parser.add_argument("--opset", type=int, default=OPSET)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.opset < 17:
        parser.error("--opset must be 17 or more")
    try:
        clips = [load_clip(path) for path in args.clip] if args.clip else None
        report = export_onnx(args.checkpoint, args.output, config=args.config, clips=clips, opset=args.opset)
    except (ValueError, FileNotFoundError, ExportCheckFailed) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(report.path)
    print(f"sha256 {report.sha256}")
    print(f"max_abs_diff {report.max_abs_diff:.3g} over {report.clips} clip(s)")
    print(
        f"exporter {report.exporter}, opset {report.opset}, {report.size_bytes / 1e6:.2f} MB, {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
