"""Decoding of uploaded audio (any container PyAV/FFmpeg knows) to 16 kHz mono float32."""

import io
import logging

import av
import numpy as np

from services.common.errors import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

TARGET_RATE = 16_000


def decode_audio(data: bytes, *, sample_rate: int = TARGET_RATE, max_duration_s: float) -> np.ndarray:
    """Decode an encoded file to mono float32 samples in [-1, 1] at `sample_rate`.

    Raises InvalidInput for empty, corrupt or non-audio data and PayloadTooLarge when the
    decoded audio would exceed `max_duration_s` (a small compressed file can expand a lot).
    """
    if not data:
        raise InvalidInput("the uploaded file is empty")
    max_samples = int(max_duration_s * sample_rate)
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidInput("the file contains no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
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
    audio = np.concatenate(chunks).astype(np.float32, copy=False)
    if audio.size == 0:
        raise InvalidInput("the file contains no audio samples")
    return np.clip(audio, -1.0, 1.0)
