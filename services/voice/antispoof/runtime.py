"""AASIST served by onnxruntime: the bona fide probability of a recording.

AASIST sees fixed windows of `nb_samp` samples (4.04 s at 16 kHz). A shorter recording is tiled to
fill one window, as in the model's training; a longer one is cut into windows with 50 % overlap (at
most `MAX_WINDOWS`, evenly spread) and its score is the mean bona fide probability of the windows.
"""

from pathlib import Path

import numpy as np

MAX_WINDOWS = 16
CUDA = "CUDAExecutionProvider"


def windows(audio: np.ndarray, size: int) -> np.ndarray:
    """(N, size) windows covering `audio`."""
    if audio.size < size:
        return np.tile(audio, -(-size // audio.size))[:size][None]
    hop = size // 2
    starts = list(range(0, audio.size - size + 1, hop))
    if starts[-1] + size < audio.size:
        starts.append(audio.size - size)
    if len(starts) > MAX_WINDOWS:
        starts = [starts[i] for i in np.linspace(0, len(starts) - 1, MAX_WINDOWS).round().astype(int)]
    return np.stack([audio[s : s + size] for s in starts])


def softmax_bonafide(logits: np.ndarray) -> np.ndarray:
    """P(bona fide) per row of (spoof, bona fide) logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp[:, 1] / exp.sum(axis=1)


class OnnxAasist:
    def __init__(self, path: Path, device: str, threads: int) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise FileNotFoundError(f"ANTISPOOF_MODEL {path} does not exist")
        if path.suffix != ".onnx":
            raise ValueError(
                f"ANTISPOOF_MODEL must be an ONNX file; export {path.name} with "
                f"`make antispoof-model ANTISPOOF_CHECKPOINT={path}` (tools/antispoof/export.py)"
            )
        available = ort.get_available_providers()
        if device == "cuda" and CUDA not in available:
            raise RuntimeError(f"ANTISPOOF_DEVICE=cuda but onnxruntime has no CUDA provider ({available})")
        use_cuda = device == "cuda" or (device == "auto" and CUDA in available)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        providers = [CUDA, "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        metadata = self.session.get_modelmeta().custom_metadata_map
        if "nb_samp" not in metadata:
            raise ValueError(f"{path} has no `nb_samp` metadata: export it with `make antispoof-model`")
        self.window = int(metadata["nb_samp"])
        self.model_id = f"{metadata.get('source', path.stem)}:onnx"
        self.provider = self.session.get_providers()[0]
        self.bonafide_probability(np.random.default_rng(0).normal(0, 0.05, self.window).astype(np.float32))

    def bonafide_probability(self, audio: np.ndarray) -> float:
        batch = windows(audio.astype(np.float32, copy=False), self.window)
        (logits,) = self.session.run(["logits"], {"waveform": batch})
        return float(softmax_bonafide(np.asarray(logits, dtype=np.float64)).mean())
