"""A real aiortc client peer for the WebRTC tests and benchmark: a microphone track that says what it is
given (48 kHz, paced like a real mic, silence in between), the "chat" data channel, and a reader of the
agent's track that notes when sound arrives. Also the checks the WebRTC tests share."""

import asyncio
import fractions
import json
import time

import av
import httpx
import jiwer
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.conftest import manifest
from tests.text import normalize, reference_text

FLEET_WEBRTC = "http://127.0.0.1:8205"  # the fleet's webrtc service, past the gateway
RATE = 48_000
FRAME = 960  # 20 ms
VOICE_RMS = 300  # int16 RMS above which an incoming frame counts as the agent's voice


class Microphone(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._pts = 0
        self.spoken = asyncio.Event()  # set when the last queued sample has been sent

    def say(self, samples_16k: np.ndarray) -> None:
        """Queue float32 16 kHz mono speech; it is sent at 48 kHz stereo on the mic's clock."""
        frame = av.AudioFrame.from_ndarray(
            (np.clip(samples_16k, -1, 1) * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 16_000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame) + resampler.resample(None)]
        self._pending = np.concatenate([self._pending, *out])
        self.spoken.clear()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME
            await asyncio.sleep(max(0.0, self._start + self._pts / RATE - time.monotonic()))
        chunk = np.zeros(FRAME, dtype=np.int16)
        take = min(FRAME, self._pending.size)
        chunk[:take] = self._pending[:take]
        self._pending = self._pending[take:]
        if take and not self._pending.size:
            self.spoken.set()
        stereo = np.repeat(chunk, 2).reshape(1, -1)  # interleaved s16 stereo, as a browser's Opus decodes
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class CallerPeer:
    """One call to the agent: `await call(base_url, **offer_fields)`, then talk, type, and listen."""

    def __init__(self, trickle: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Microphone()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("chat")
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.channel_open = asyncio.Event()
        self.connected = asyncio.Event()
        self.voice_frames = 0
        self.first_voice_at: float | None = None  # monotonic time of the first voiced frame since `listen()`
        self.voice_heard = asyncio.Event()  # set by the first voiced frame since `listen()`
        self.trickle = trickle  # send candidates over /ice instead of in the offer
        self.pc_id: str | None = None
        self._reader: asyncio.Task | None = None
        self.channel.on("open", self.channel_open.set)
        self.channel.on("message", lambda message: self.events.put_nowait(json.loads(message)))
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_state(self) -> None:
        if self.pc.connectionState == "connected":
            self.connected.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples = frame.to_ndarray().astype(np.float64)
            if np.sqrt(np.mean(samples**2)) > VOICE_RMS:
                self.voice_frames += 1
                if self.first_voice_at is None:
                    self.first_voice_at = time.monotonic()
                    self.voice_heard.set()

    def listen(self) -> None:
        """Start measuring the agent's voice afresh."""
        self.voice_frames = 0
        self.first_voice_at = None
        self.voice_heard.clear()

    def offer_sdp(self) -> str:
        sdp = self.pc.localDescription.sdp
        if self.trickle:  # leave the candidates out: they go over /ice
            lines = sdp.splitlines(keepends=True)
            sdp = "".join(line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates")))
        return sdp

    def candidates(self) -> list[dict]:
        """This peer's candidates as a browser sends them on /ice, with their media section."""
        out, index, mid = [], -1, None
        for line in self.pc.localDescription.sdp.splitlines():
            if line.startswith("m="):
                index, mid = index + 1, None
            elif line.startswith("a=mid:"):
                mid = line.removeprefix("a=mid:")
            elif line.startswith("a=candidate:"):
                out.append({"candidate": line.removeprefix("a="), "sdpMid": mid, "sdpMLineIndex": index})
        return out

    async def call(self, client: httpx.AsyncClient, ice_client: httpx.AsyncClient | None = None, **fields) -> dict:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await client.post("/offer", json={"sdp": self.offer_sdp(), "type": "offer", **fields})
        response.raise_for_status()
        answer = response.json()
        self.pc_id = answer["pc_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        if self.trickle:
            for candidate in [*self.candidates(), None]:
                reply = await (ice_client or client).post("/ice", json={"pc_id": self.pc_id, "candidate": candidate})
                reply.raise_for_status()
        return answer

    async def next_event(self, kind: str, within_s: float = 30) -> dict:
        """The next data channel event of type `kind` (others before it are skipped)."""
        deadline = time.monotonic() + within_s
        while True:
            event = await asyncio.wait_for(self.events.get(), max(0.01, deadline - time.monotonic()))
            if event.get("type") == kind:
                return event

    async def agent_text_until_end(self, within_s: float = 60) -> str:
        """The agent's streamed text up to its `agent_end`."""
        deadline = time.monotonic() + within_s
        text = ""
        while True:
            event = await asyncio.wait_for(self.events.get(), max(0.01, deadline - time.monotonic()))
            if event.get("type") == "agent_text":
                text += event["text"]
            elif event.get("type") == "agent_end":
                return text

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()


def peers(base_url: str) -> int:
    return httpx.get(f"{base_url}/readyz", timeout=5).json()["peers"]


async def until_peers(base_url: str, count: int, within_s: float) -> float:
    """Seconds until `base_url` holds `count` peers."""
    started = time.monotonic()
    while peers(base_url) != count:
        assert time.monotonic() - started < within_s, f"{base_url} still holds {peers(base_url)} peers"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def assert_heard(transcription: dict, clip: str) -> None:
    expected = normalize(reference_text(manifest()[clip]))
    assert jiwer.wer(expected, normalize(transcription["text"])) <= 0.2, transcription
