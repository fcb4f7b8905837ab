"""Speech in OpenAI's response formats, encoded while it is synthesised.

The service's 24 kHz int16 mono PCM frames go through an optional pitch-preserving time stretch
(FFmpeg's `atempo`, for OpenAI's `speed`) and one PyAV container that writes to memory; every frame's
encoded bytes are handed on at once, so the first bytes of a response leave with the first sentence.
wav is streamed too: its header carries FFmpeg's "unknown length" sizes (0xFFFFFFFF), as a streamed
WAV must; pcm is the raw samples."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import av
import av.filter
import numpy as np
from starlette.concurrency import run_in_threadpool

from services.tts.settings import OUTPUT_RATE

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
MIN_SPEED, MAX_SPEED = 0.25, 4.0  # OpenAI's range
MIN_ATEMPO = 0.5  # one atempo filter stretches by 0.5-100; slower is two in a row
AVIO_BUFFER = 4096  # bytes the container holds before writing, so small pieces leave early


@dataclass(frozen=True)
class OutputFormat:
    container: str
    codec: str
    media_type: str
    options: dict[str, str] = field(default_factory=dict)


FORMATS: dict[str, OutputFormat] = {
    "mp3": OutputFormat("mp3", "libmp3lame", "audio/mpeg"),
    # Ogg pages of 20 ms instead of the muxer's 1 s, so pages leave as they are encoded.
    "opus": OutputFormat("ogg", "libopus", "audio/ogg", {"page_duration": "20000"}),
    "aac": OutputFormat("adts", "aac", "audio/aac"),
    "flac": OutputFormat("flac", "flac", "audio/flac"),
    "wav": OutputFormat("wav", "pcm_s16le", "audio/wav"),
}
MEDIA_TYPES: dict[str, str] = {name: spec.media_type for name, spec in FORMATS.items()} | {"pcm": "audio/pcm"}


class _Sink:
    """A write-only file for PyAV: what the container writes, until taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _frame(pcm: bytes, pts: int) -> av.AudioFrame:
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.rate, frame.pts, frame.time_base = OUTPUT_RATE, pts, Fraction(1, OUTPUT_RATE)
    return frame


class Encoder:
    """One response's container: `encode` PCM pieces, then `finish`; each returns the bytes made so far."""

    def __init__(self, name: str) -> None:
        spec = FORMATS[name]
        self._sink = _Sink()
        self._container = av.open(
            self._sink,
            "w",
            format=spec.container,
            options=spec.options,
            container_options={"flush_packets": "1", "fflags": "+bitexact"},
            buffer_size=AVIO_BUFFER,
        )
        self._stream = self._container.add_stream(spec.codec, rate=OUTPUT_RATE)
        self._stream.layout = "mono"
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        frame = _frame(pcm, self._pts)
        self._pts += frame.samples
        self._container.mux(self._stream.encode(frame))
        return self._sink.take()

    def finish(self) -> bytes:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._sink.take()


class Tempo:
    """Pitch-preserving time stretch of 24 kHz int16 mono PCM by `speed` (FFmpeg's atempo, WSOLA)."""

    def __init__(self, speed: float) -> None:
        self._graph = av.filter.Graph()
        nodes = [
            self._graph.add_abuffer(
                format="s16", sample_rate=OUTPUT_RATE, layout="mono", time_base=Fraction(1, OUTPUT_RATE)
            )
        ]
        factors = [MIN_ATEMPO, speed / MIN_ATEMPO] if speed < MIN_ATEMPO else [speed]
        nodes += [self._graph.add("atempo", f"{factor:.6f}") for factor in factors]
        nodes.append(self._graph.add("aformat", "sample_fmts=s16:channel_layouts=mono"))
        nodes.append(self._graph.add("abuffersink"))
        for source, target in zip(nodes, nodes[1:], strict=False):
            source.link_to(target)
        self._graph.configure()
        self._pts = 0

    def process(self, pcm: bytes) -> bytes:
        frame = _frame(pcm, self._pts)
        self._pts += frame.samples
        self._graph.push(frame)
        return self._drain()

    def finish(self) -> bytes:
        self._graph.push(None)
        return self._drain()

    def _drain(self) -> bytes:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return b"".join(out)
            out.append(frame.to_ndarray().astype("<i2").tobytes())


class _Chain:
    """Tempo (when the speed is not 1), then the container (when the format is not raw pcm)."""

    def __init__(self, name: str, speed: float) -> None:
        self._tempo = Tempo(speed) if speed != 1.0 else None
        self._encoder = Encoder(name) if name != "pcm" else None

    def push(self, pcm: bytes) -> bytes:
        if self._tempo is not None:
            pcm = self._tempo.process(pcm)
        return self._encoder.encode(pcm) if self._encoder is not None and pcm else pcm

    def finish(self) -> bytes:
        tail = self._tempo.finish() if self._tempo is not None else b""
        if self._encoder is None:
            return tail
        return (self._encoder.encode(tail) if tail else b"") + self._encoder.finish()


async def encoded(frames: AsyncIterator[bytes], name: str, speed: float = 1.0) -> AsyncIterator[bytes]:
    """`frames` (24 kHz int16 mono PCM) as `name` at `speed`, chunk by chunk as they come; the
    encoding runs on a worker thread, never on the event loop."""
    chain = _Chain(name, speed)
    async for pcm in frames:
        data = await run_in_threadpool(chain.push, pcm)
        if data:
            yield data
    tail = await run_in_threadpool(chain.finish)
    if tail:
        yield tail
