"""The voice profile of one recording: each configured property model's label probabilities.

A property whose model is not configured or failed to load is left out, and `models` says why."""

import logging
from dataclasses import dataclass

import numpy as np

from services.common.errors import InvalidInput, ModelUnavailable
from services.common.models import LoadedModel
from services.voice.embedding.loader import pick_device
from services.voice.profile.classifier import AudioClassifier, load_classifier
from services.voice.settings import VoiceSettings
from services.voice.speech import RATE, seconds, speech_only

logger = logging.getLogger(__name__)

PROPERTIES = ("gender", "age", "emotion")
EMBEDDED_GENDER = "embedded:voice2gender"
DECIMALS = 4


@dataclass
class Profile:
    properties: dict[str, dict[str, float]]
    voiced_seconds: float


def _labels(setting: str | None) -> tuple[str, ...]:
    return tuple(label.strip() for label in (setting or "").split(",") if label.strip())


class VoiceProfiler:
    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.specs = {name: getattr(settings, f"ssap_{name}_model") for name in PROPERTIES}
        self.models: dict[str, LoadedModel[AudioClassifier]] = {
            name: LoadedModel(f"{name} model", spec) for name, spec in self.specs.items() if spec
        }

    def load(self) -> None:
        for name, model in self.models.items():
            model.load(lambda name=name: self._load(name))

    def _load(self, name: str) -> AudioClassifier:
        spec = self.specs[name]
        if name == "gender" and spec == EMBEDDED_GENDER:
            from services.voice.profile.gender import Voice2Gender

            return Voice2Gender()
        s = self.settings
        token = s.hf_token.get_secret_value() if s.hf_token else None
        labels = _labels(getattr(s, f"ssap_{name}_labels"))
        return load_classifier(spec, labels, pick_device(s.ssap_device), s.voice_threads, token)

    @property
    def settled(self) -> bool:
        return all(model.settled for model in self.models.values())

    def status(self) -> dict[str, dict[str, object]]:
        """Per property: the model, or why the property is missing from profiles."""
        report: dict[str, dict[str, object]] = {}
        for name in PROPERTIES:
            model = self.models.get(name)
            if model is None:
                variable = f"SSAP_{name.upper()}_MODEL"
                report[name] = {"available": False, "reason": f"{variable} is not set"}
            elif model.value is not None:
                report[name] = {"available": True, "model": model.value.model_id}
            else:
                reason = model.error or "still loading"
                report[name] = {"available": False, "model": model.spec, "reason": reason}
        return report

    def profile(self, audio: np.ndarray) -> Profile:
        """Profile 16 kHz audio; InvalidInput when it holds too little voiced speech."""
        loaded = {name: model.value for name, model in self.models.items() if model.value is not None}
        if not loaded:
            reasons = "; ".join(f"{name}: {info['reason']}" for name, info in self.status().items())
            raise ModelUnavailable(f"no voice profiling model is available ({reasons})", retryable=not self.settled)
        speech = speech_only(audio)
        voiced = seconds(speech)
        minimum = self.settings.ssap_min_voiced_s
        if voiced < minimum:
            raise InvalidInput(f"{voiced:.2f} s of voiced audio; a profile needs at least {minimum} s")
        speech = speech[: int(self.settings.ssap_max_voiced_s * RATE)]
        properties = {}
        for name, classifier in loaded.items():
            scores = classifier.classify(speech)
            properties[name] = {
                label: round(p, DECIMALS) for label, p in sorted(scores.items(), key=lambda item: -item[1])
            }
        return Profile(properties, round(voiced, 2))
