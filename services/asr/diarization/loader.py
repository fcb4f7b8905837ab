"""Pick the diarization backend named by DIARIZATION_MODEL."""

from services.asr.diarization.base import Diarizer
from services.asr.diarization.embedded import EmbeddedDiarizer
from services.asr.diarization.pyannote_backend import PyannoteDiarizer
from services.asr.settings import AsrSettings

EMBEDDED = "embedded:resemblyzer"


def load_diarizer(settings: AsrSettings, device: str) -> Diarizer:
    if settings.diarization_model == EMBEDDED:
        return EmbeddedDiarizer(device)
    if settings.diarization_model.startswith("embedded:"):
        raise RuntimeError(f"unknown embedded diarization model {settings.diarization_model!r}; use {EMBEDDED}")
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    return PyannoteDiarizer(settings.diarization_model, token, device)
