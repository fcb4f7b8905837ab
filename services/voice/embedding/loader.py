"""Pick the speaker encoder named by SPEAKER_MODEL."""

from services.voice.embedding.base import SpeakerEncoder
from services.voice.settings import VoiceSettings

EMBEDDED = "embedded:resemblyzer"


def pick_device(setting: str) -> str:
    if setting != "auto":
        return setting
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(settings: VoiceSettings) -> SpeakerEncoder:
    import torch

    torch.set_num_threads(settings.voice_threads)
    device = pick_device(settings.speaker_device)
    if settings.speaker_model == EMBEDDED:
        from services.voice.embedding.resemblyzer_encoder import ResemblyzerEncoder

        return ResemblyzerEncoder(device)
    from services.voice.embedding.speechbrain_encoder import SpeechBrainEncoder

    return SpeechBrainEncoder(settings.speaker_model, device, settings.model_cache_dir)
