"""Decoding of uploads: every container the API accepts, and clear errors for everything else."""

import numpy as np
import pytest
from faster_whisper.audio import decode_audio as raw_engine_decode

from services.common.audio import decode_audio
from services.common.errors import InvalidInput, PayloadTooLarge
from tests.audio_files import CONTAINERS, encode
from tests.conftest import DATA


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_every_accepted_container_decodes_to_16k_mono(fmt: str) -> None:
    audio = decode_audio(encode(_tone(2.0, 16_000), fmt), max_duration_s=60)
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert abs(audio.size / 16_000 - 2.0) < 0.15  # AAC adds priming and frame padding (~0.13 s)
    assert 0.2 < np.sqrt(np.mean(audio**2)) < 0.5  # the tone survives (RMS of 0.5 sine ≈ 0.35)


def test_resamples_and_downmixes() -> None:
    audio = decode_audio((DATA / "asr/en_jfk.flac").read_bytes(), max_duration_s=60)
    assert audio.size == pytest.approx(11.0 * 16_000, abs=160)
    assert np.abs(audio).max() <= 1.0


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"this is a text file, not audio\n" * 20, "decode"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64, "decode"),
        (bytes(range(256)) * 64, "decode"),
    ],
)
def test_bad_data_raises_invalid_input(data: bytes, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        decode_audio(data, max_duration_s=60)


def test_audio_over_the_duration_limit_is_refused_while_decoding() -> None:
    with pytest.raises(PayloadTooLarge, match="longer than"):
        decode_audio(encode(_tone(5.0, 16_000), "flac"), max_duration_s=2)


@pytest.mark.parametrize(
    "name", ["asr/en_jfk.flac", "asr/sb_spk1_snt1.wav", "multilingual/zh_aishell_BAC009S0724W0121.wav"]
)
def test_uploads_decode_to_exactly_what_the_raw_engine_hears(name: str) -> None:
    """The server and raw faster-whisper must decode the same samples (recall is measured between them)."""
    path = DATA / name
    ours = decode_audio(path.read_bytes(), max_duration_s=600)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, raw_engine_decode(str(path)))
