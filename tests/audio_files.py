"""Helpers that build test inputs with PyAV and NumPy (no external tools)."""

import io

import av
import numpy as np

# container format → (codec, file suffix)
CONTAINERS = {
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "ogg": ("ogg", "libopus", ".ogg"),
    "m4a": ("ipod", "aac", ".m4a"),
    "webm": ("webm", "libopus", ".webm"),
    "wav": ("wav", "pcm_s16le", ".wav"),
    "flac": ("flac", "flac", ".flac"),
}


def read_mono(data: bytes, rate: int = 16_000) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = [
            out.to_ndarray().reshape(-1) for frame in container.decode(audio=0) for out in resampler.resample(frame)
        ]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks)


def encode(samples: np.ndarray, fmt: str, rate: int = 16_000) -> bytes:
    """Encode float32 mono samples into the container `fmt` (see CONTAINERS)."""
    container_format, codec, _ = CONTAINERS[fmt]
    out_rate = 48_000 if codec == "libopus" else rate
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        frames = resampler.resample(frame) + resampler.resample(None)
        for piece in frames:
            for packet in stream.encode(piece):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def convert(data: bytes, fmt: str) -> bytes:
    return encode(read_mono(data), fmt)


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    return encode(samples, "wav", rate)


def at_level(samples: np.ndarray, dbfs: float) -> np.ndarray:
    """Scaled so that the RMS of its voiced 32 ms windows (louder than a tenth of the loudest) is `dbfs`."""
    windows = samples[: samples.size // 512 * 512].reshape(-1, 512)
    levels = np.sqrt((windows**2).mean(axis=1))
    voiced = windows[levels > 0.1 * levels.max()]
    return samples * (10 ** (dbfs / 20) / np.sqrt((voiced**2).mean()))
