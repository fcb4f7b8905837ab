"""Speech-only audio: Silero VAD (the ONNX model inside faster-whisper) trims silence and pauses."""

import numpy as np
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

RATE = 16_000
VAD = VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=100)


def speech_only(audio: np.ndarray) -> np.ndarray:
    """The voiced parts of 16 kHz `audio`, joined; empty when there is no speech."""
    segments = get_speech_timestamps(audio, VAD)
    if not segments:
        return np.zeros(0, dtype=np.float32)
    chunks, _ = collect_chunks(audio, segments)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def seconds(audio: np.ndarray) -> float:
    return audio.size / RATE
