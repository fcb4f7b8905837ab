"""Reference recordings of voice-cloning speakers: decoded, checked, stored as 24 kHz mono WAV under
a server-made name (the client's file name never becomes a path)."""

import numpy as np

from services.catalog.settings import CatalogSettings
from services.common.audio import decode_audio, write_wav
from services.common.errors import InvalidInput

RATE = 24_000


def store_reference(data: bytes, speaker_id: str, settings: CatalogSettings) -> str:
    """Write the recording as `<speaker_id>.wav` in the reference directory; returns that file name."""
    audio = decode_audio(data, sample_rate=RATE, max_duration_s=settings.reference_max_s)
    seconds = audio.size / RATE
    if seconds < settings.reference_min_s:
        raise InvalidInput(f"reference_audio is {seconds:.1f} s; at least {settings.reference_min_s} s is needed")
    if float(np.sqrt(np.mean(audio**2))) < 1e-3:
        raise InvalidInput("reference_audio is silent")
    directory = settings.reference_audio_dir
    directory.mkdir(parents=True, exist_ok=True)
    filename = f"{speaker_id}.wav"
    write_wav(directory / filename, audio, RATE)
    return filename
