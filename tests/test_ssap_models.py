"""Age and emotion models a user supplies: an ONNX audio classifier (built here with onnx.helper, as
`optimum-cli export onnx --task audio-classification` lays one out) served by the voice service,
its labels read from the model's config.json. No such model ships, so without one the property is absent."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from services.voice.profile.classifier import ClassifierError, OnnxClassifier
from tests.conftest import DATA
from tests.in_process import ServiceApp


def loudness_classifier(directory: Path, labels: list[str] | None) -> Path:
    """logits = [2.5 - 10 m, 10 m - 2.5] with m = mean|x|: a two-class model of a waveform [batch, samples]."""
    directory.mkdir(parents=True, exist_ok=True)
    nodes = [
        helper.make_node("Abs", ["waveform"], ["magnitude"]),
        helper.make_node("ReduceMean", ["magnitude"], ["level"], keepdims=1, axes=[1]),
        helper.make_node("Mul", ["level", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["logits"]),
    ]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [1, 2], [-10.0, 10.0])
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [1, 2], [2.5, -2.5])
    graph = helper.make_graph(
        nodes,
        "loudness",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", "samples"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        initializer=[scale, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, directory / "model.onnx")
    if labels is not None:
        (directory / "config.json").write_text(json.dumps({"id2label": {str(i): x for i, x in enumerate(labels)}}))
    return directory


def test_onnx_labels_come_from_the_config(tmp_path: Path) -> None:
    model = OnnxClassifier(loudness_classifier(tmp_path, ["calm", "excited"]), (), "cpu", 1)
    quiet = model.classify(np.full(16_000, 0.01, np.float32))
    loud = model.classify(np.full(16_000, 0.5, np.float32))
    assert list(quiet) == ["calm", "excited"] and abs(sum(quiet.values()) - 1) < 1e-6
    assert quiet["calm"] > 0.5 > loud["calm"]


def test_onnx_without_labels_or_with_the_wrong_count_is_refused(tmp_path: Path) -> None:
    unlabelled = loudness_classifier(tmp_path / "a", None)
    with pytest.raises(ClassifierError, match="no labels"):
        OnnxClassifier(unlabelled, (), "cpu", 1)
    assert OnnxClassifier(unlabelled, ("calm", "excited"), "cpu", 1).labels == ("calm", "excited")
    with pytest.raises(ClassifierError, match="outputs 2 classes but 3 labels"):
        OnnxClassifier(loudness_classifier(tmp_path / "b", ["a", "b", "c"]), (), "cpu", 1)


def test_a_configured_model_adds_its_property(service_app: ServiceApp, tmp_path: Path) -> None:
    emotion = loudness_classifier(tmp_path / "emotion", ["calm", "excited"])
    env = {"SSAP_EMOTION_MODEL": str(emotion), "SSAP_AGE_MODEL": str(tmp_path / "missing.onnx")}
    with service_app("voice", tmp_path / "data", **env) as client:
        files = {"file": ("lj.wav", (DATA / "asr/en_LJ050-0131.wav").read_bytes())}
        body = client.post("/voice/profile", files=files).json()
    assert set(body["properties"]) == {"gender", "emotion"}
    assert set(body["properties"]["emotion"]) == {"calm", "excited"}
    assert body["models"]["emotion"] == {"available": True, "model": str(emotion), "reason": None}
    assert body["models"]["age"]["available"] is False
    assert "missing.onnx does not exist" in body["models"]["age"]["reason"]
