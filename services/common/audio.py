"""Decoding of uploaded audio (any container PyAV/FFmpeg knows) to 16 kHz mono float32, and the
16-bit mono PCM / WAV the services send and store."""

import io
import logging
import wave
from pathlib import Path

import av
import numpy as np

from services.common.durable import write_durably
from services.common.errors import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

TARGET_RATE = 16_000


def decode_audio(data: bytes, *, sample_rate: int = TARGET_RATE, max_duration_s: float) -> np.ndarray:
    """Decode an encoded file to mono float32 samples in [-1, 1) at `sample_rate`.

    Decoded as faster-whisper decodes a file (resampled to int16, then / 32768), so the server hears
    exactly what the raw engine hears; int16 while decoding keeps the peak at about 6 bytes a sample
    (the int16 samples and the float32 result; it was 12 with float32 pieces).

    Raises InvalidInput for empty, corrupt or non-audio data and PayloadTooLarge when the decoded
    audio would exceed `max_duration_s` (a small compressed file can expand a lot).
    """
    if not data:
        raise InvalidInput("the uploaded file is empty")
    max_samples = int(max_duration_s * sample_rate)
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidInput("the file contains no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > max_samples:
                    raise PayloadTooLarge(f"audio is longer than the limit of {max_duration_s:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (InvalidInput, PayloadTooLarge):
        raise
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        logger.info("undecodable upload: %s", exc)
        raise InvalidInput(f"could not decode the file as audio ({type(exc).__name__})") from exc
    if not chunks:
        raise InvalidInput("the file contains no audio samples")
    samples = np.concatenate(chunks)
    if samples.size == 0:
        raise InvalidInput("the file contains no audio samples")
    del chunks
    audio = samples.astype(np.float32)
    audio /= 32768.0
    return audio


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as int16 little-endian bytes (clipped)."""
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """A mono 16-bit WAV file holding `pcm`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write `audio` as a mono 16-bit WAV at `path`, atomically and durably (services/common/durable.py)."""
    write_durably(path, wav_bytes(to_pcm16(audio), rate))
