"""Parts of the WebRTC service on their own: signalling checks, and the audio both ways on real speech."""

import asyncio
import time

import av
import numpy as np
import pytest

from services.common.errors import InvalidInput
from services.webrtc.media import FRAME_SAMPLES, TRACK_RATE, AgentAudioTrack, MicConverter
from services.webrtc.settings import WebrtcSettings
from services.webrtc.signalling import Candidate, check_offer_sdp, ice_candidate
from tests.audio_files import read_mono
from tests.webrtc_peer import CallerPeer

HOST_CANDIDATE = "candidate:1 1 udp 2130706431 192.0.2.2 54321 typ host"


@pytest.mark.parametrize(
    "text",
    [HOST_CANDIDATE, "a=" + HOST_CANDIDATE, HOST_CANDIDATE.removeprefix("candidate:")],
)
def test_candidate_forms_browsers_send(text: str) -> None:
    parsed = ice_candidate(Candidate(candidate=text, sdpMid="0", sdpMLineIndex=0))
    assert (parsed.ip, parsed.port, parsed.type, parsed.sdpMid, parsed.sdpMLineIndex) == (
        "192.0.2.2",
        54321,
        "host",
        "0",
        0,
    )


def test_empty_candidate_is_the_end_of_candidates() -> None:
    assert ice_candidate(Candidate(candidate="", sdpMid="0", sdpMLineIndex=0)) is None


@pytest.mark.parametrize(
    "candidate",
    [
        Candidate(candidate="candidate:garbage", sdpMid="0"),
        Candidate(candidate="candidate:1 1 udp x 192.0.2.2 5 typ host", sdpMid="0"),
        Candidate(candidate="candidate:1 1 sctp 1 192.0.2.2 5 typ host", sdpMid="0"),
        Candidate(candidate=HOST_CANDIDATE),  # neither sdpMid nor sdpMLineIndex
    ],
)
def test_malformed_candidates_are_refused(candidate: Candidate) -> None:
    with pytest.raises(InvalidInput):
        ice_candidate(candidate)


async def test_a_real_offer_passes_and_garbage_does_not() -> None:
    caller = CallerPeer()
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    parsed = check_offer_sdp(caller.pc.localDescription.sdp)
    assert [m.kind for m in parsed.media] == ["audio", "application"]
    await caller.close()
    for garbage in ["hello", "v=0\r\n", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"]:
        with pytest.raises(InvalidInput):
            check_offer_sdp(garbage)


def test_ice_servers_need_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICE_SERVERS", '[{"urls": "stun:stun.example.org:3478"}]')
    assert WebrtcSettings().ice_servers == [{"urls": "stun:stun.example.org:3478"}]
    monkeypatch.setenv("ICE_SERVERS", '[{"username": "u"}]')
    with pytest.raises(ValueError, match="urls"):
        WebrtcSettings()


def stereo_48k_frames(samples_16k: np.ndarray) -> list[av.AudioFrame]:
    """Speech as aiortc hands a browser's mic to the server: 20 ms of 48 kHz interleaved s16 stereo."""
    frame = av.AudioFrame.from_ndarray((samples_16k * 32767).astype(np.int16).reshape(1, -1), layout="mono")
    frame.sample_rate = 16_000
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000, frame_size=960)
    return resampler.resample(frame) + resampler.resample(None)


def test_mic_frames_become_16k_mono_with_the_same_sound(data_dir) -> None:
    speech = read_mono((data_dir / "asr/sb_spk1_snt1.wav").read_bytes())
    converter = MicConverter()
    pcm = b"".join(converter.convert(frame) for frame in stereo_48k_frames(speech))
    back = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32767
    assert abs(back.size - speech.size) < 16_000 * 0.05  # all of it, give or take the resampler's delay
    lag = int(np.argmax(np.correlate(back[:8000], speech[:8000], "full"))) - 7999  # the resampler's delay
    assert 0 <= lag < 80
    n = min(back.size - lag, speech.size)
    assert np.corrcoef(back[lag : lag + n], speech[:n])[0, 1] > 0.99


async def test_agent_track_paces_20ms_frames_and_is_silent_when_idle() -> None:
    track = AgentAudioTrack()
    first = await track.recv()
    assert (first.samples, first.sample_rate, first.format.name, first.layout.name) == (
        FRAME_SAMPLES,
        TRACK_RATE,
        "s16",
        "mono",
    )
    assert not first.to_ndarray().any()
    tone = (np.sin(np.arange(24_000) * 2 * np.pi * 440 / 24_000) * 8000).astype(np.int16)  # 1 s at 24 kHz
    track.play(tone.tobytes())
    assert track.buffered_s == pytest.approx(1.0, abs=0.02)
    started = time.monotonic()
    frames = [await track.recv() for _ in range(25)]
    assert time.monotonic() - started >= 0.48  # the clock, not the full buffer, sets the pace
    assert [f.pts for f in frames] == [FRAME_SAMPLES * i for i in range(1, 26)]
    loud = np.concatenate([f.to_ndarray().reshape(-1) for f in frames[2:]]).astype(np.float64)
    assert np.sqrt(np.mean(loud**2)) > 4000
    track.stop_speaking()  # barge-in drops the rest
    assert track.buffered_s == 0
    assert not (await track.recv()).to_ndarray().any()
    track.stop()
    await asyncio.sleep(0)
