"""Audio classifiers the user supplies for age and emotion: an ONNX export or a Hugging Face
audio-classification model. Labels always come from the model's own config (or an explicit setting);
nothing here invents a label or a score."""

import json
from pathlib import Path
from typing import Protocol

import numpy as np

RATE = 16_000


class AudioClassifier(Protocol):
    model_id: str
    labels: tuple[str, ...]

    def classify(self, speech: np.ndarray) -> dict[str, float]:
        """Label -> probability for 16 kHz mono audio; the probabilities sum to 1."""
        ...


class ClassifierError(RuntimeError):
    """A model that cannot be used as configured (reported by /readyz and in `models`)."""


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ClassifierError(f"{path}: unreadable JSON ({exc})") from exc


def config_labels(config: dict) -> tuple[str, ...]:
    """`id2label` of a Hugging Face config, in class-index order."""
    id2label = config.get("id2label") or {}
    try:
        ordered = sorted(((int(index), str(label)) for index, label in id2label.items()))
    except ValueError as exc:
        raise ClassifierError(f"id2label has a non-integer class index ({exc})") from exc
    if [index for index, _ in ordered] != list(range(len(ordered))):
        raise ClassifierError("id2label must number its classes 0..N-1")
    return tuple(label for _, label in ordered)


class OnnxClassifier:
    """An ONNX audio classifier taking a raw waveform [batch, samples] and returning logits
    [batch, classes], as `optimum-cli export onnx --task audio-classification` writes it.

    `spec` is the .onnx file or a directory holding `model.onnx`. Labels: `labels` if given, else
    `id2label` of `config.json` next to the model. `preprocessor_config.json` there supplies
    `do_normalize` and `sampling_rate` (only 16 kHz models are accepted)."""

    def __init__(self, spec: Path, labels: tuple[str, ...], device: str, threads: int) -> None:
        import onnxruntime as ort

        path = spec / "model.onnx" if spec.is_dir() else spec
        if not path.is_file():
            raise ClassifierError(f"{path} does not exist")
        config = _read_json(path.parent / "config.json")
        preprocessor = _read_json(path.parent / "preprocessor_config.json")
        self.labels = labels or config_labels(config)
        if not self.labels:
            raise ClassifierError(
                f"no labels for {path}: put the model's config.json (with id2label) next to it, "
                "or list the labels in the *_LABELS setting"
            )
        rate = preprocessor.get("sampling_rate", RATE)
        if rate != RATE:
            raise ClassifierError(f"{path} expects {rate} Hz audio; only 16 kHz models are supported")
        self.normalize = bool(preprocessor.get("do_normalize", False))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 2:
            shapes = [(i.name, i.shape) for i in inputs]
            raise ClassifierError(f"{path} must take one raw-waveform input [batch, samples]; it takes {shapes}")
        self._input = inputs[0].name
        self.model_id = str(spec)
        classes = self._logits(np.zeros(RATE, np.float32)).size
        if classes != len(self.labels):
            raise ClassifierError(f"{path} outputs {classes} classes but {len(self.labels)} labels are given")

    def _logits(self, speech: np.ndarray) -> np.ndarray:
        if self.normalize:
            speech = (speech - speech.mean()) / np.sqrt(speech.var() + 1e-7)
        (logits, *_) = self._session.run(None, {self._input: speech[np.newaxis].astype(np.float32)})
        return np.asarray(logits, dtype=np.float64).reshape(-1)

    def classify(self, speech: np.ndarray) -> dict[str, float]:
        probabilities = softmax(self._logits(speech))
        return dict(zip(self.labels, (float(p) for p in probabilities), strict=True))


class HuggingFaceClassifier:
    """A Hugging Face audio-classification model (local directory or hub id) run by `transformers`
    (the `ssap-hf` extra). Labels are the model's `id2label`."""

    def __init__(self, spec: str, device: str, token: str | None) -> None:
        try:
            from transformers import pipeline
        except ImportError as exc:
            raise ClassifierError(
                f"{spec} needs the transformers package: install the `ssap-hf` extra, or export the model "
                "to ONNX and give the .onnx path"
            ) from exc
        self._pipeline = pipeline("audio-classification", model=spec, device=0 if device == "cuda" else -1, token=token)
        self.labels = config_labels(self._pipeline.model.config.to_dict())
        self.model_id = spec

    def classify(self, speech: np.ndarray) -> dict[str, float]:
        scored = self._pipeline({"raw": speech, "sampling_rate": RATE}, top_k=len(self.labels))
        total = sum(item["score"] for item in scored)
        return {item["label"]: float(item["score"]) / total for item in scored}


def load_classifier(
    spec: str, labels: tuple[str, ...], device: str, threads: int, token: str | None
) -> AudioClassifier:
    """An ONNX file or directory with model.onnx -> OnnxClassifier; anything else is a Hugging Face model."""
    path = Path(spec).expanduser()
    if path.suffix == ".onnx" or (path.is_dir() and (path / "model.onnx").is_file()):
        return OnnxClassifier(path, labels, device, threads)
    return HuggingFaceClassifier(spec, device, token)
