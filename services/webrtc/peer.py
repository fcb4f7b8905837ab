"""One browser peer: its RTCPeerConnection, the "chat" data channel, the mic reader, the agent's track,
and the link to the orchestrator that holds the conversation.

Tasks: `_mic_loop` (mic frames → orchestrator), `_orchestrator_loop` (events → data channel, audio → the
agent track). The registry's watchdog closes a peer that never connects or whose media stops.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine

from aiortc import RTCDataChannel, RTCIceCandidate, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from services.common.errors import InvalidInput
from services.common.protocols.base import ErrorEvent, WireEvent
from services.common.protocols.datachannel import Transcription
from services.common.protocols.transcribe import TranscriptEvent
from services.common.protocols.voice_chat import AgentEnd, AgentText, Disconnect, Interrupted, Latency, ServerEvent
from services.webrtc.media import MIC_RATE, AgentAudioTrack, MicConverter
from services.webrtc.orchestrator import OrchestratorLink, OrchestratorUnavailable

logger = logging.getLogger(__name__)

CHANNEL_LABEL = "chat"
MAX_TEXT_CHARS = 4000
DRAIN_TIMEOUT_S = 1.0
PLAY_OUT_TIMEOUT_S = 5.0
# Orchestrator events passed on to the data channel as they are, besides the two the reference names
# (`latency`: the per-stage timings the console charts, as over the WebSocket).
FORWARDED_EVENTS = (Interrupted, AgentEnd, Latency, ErrorEvent, Disconnect)


class Peer:
    def __init__(
        self,
        pc: RTCPeerConnection,
        link: OrchestratorLink,
        mids: list[str | None],
        mic_chunk_ms: int,
        on_closed: Callable[["Peer"], Awaitable[None]],
        owner: str,
    ) -> None:
        self.pc_id = str(uuid.uuid4())
        self.owner = owner  # the user whose key made the offer: only that key (or an admin's) adds candidates
        self.pc = pc
        self.link = link
        self._mids = mids  # the offer's media sections, in order
        self.agent_track = AgentAudioTrack()
        self.created = time.monotonic()
        self.connected_at: float | None = None
        self.last_inbound = self.created
        self._mic_chunk_bytes = MIC_RATE * mic_chunk_ms // 1000 * 2
        self._on_closed = on_closed
        self._channel: RTCDataChannel | None = None
        self._outbox: list[str] = []  # data channel messages waiting for the channel to open
        self._tasks: set[asyncio.Task] = set()
        self._mic: MediaStreamTrack | None = None  # the first audio track that delivers sound
        self._closing = False
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)

    def start(self) -> None:
        self._spawn(self._orchestrator_loop())

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def has_mic(self) -> bool:
        return self._mic is not None

    def check_candidate_target(self, candidate: RTCIceCandidate) -> None:
        """A remote candidate must name one of the offer's media sections."""
        if candidate.sdpMid is not None and candidate.sdpMid not in self._mids:
            raise InvalidInput(f"sdpMid {candidate.sdpMid!r} is not a media section of the offer")
        if candidate.sdpMLineIndex is not None and candidate.sdpMLineIndex >= len(self._mids):
            raise InvalidInput(f"sdpMLineIndex {candidate.sdpMLineIndex} is past the offer's media sections")

    # -- peer connection events -----------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._mic_loop(track))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL:
            logger.info("ignoring data channel %r of peer %s", channel.label, self.pc_id)
            return
        self._channel = channel
        channel.on("open", self._flush_outbox)
        channel.on("message", self._on_message)
        if channel.readyState == "open":
            self._flush_outbox()

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        logger.info("peer %s is %s", self.pc_id, state)
        if state == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
            self.last_inbound = self.connected_at
        elif state in ("failed", "closed"):
            await self.close(f"connection {state}")

    def _on_message(self, message: str | bytes) -> None:
        self.last_inbound = time.monotonic()
        if isinstance(message, bytes):
            self.send_event(ErrorEvent(source="client", message="send text, not binary messages"))
            return
        text = message.strip()
        if not text:
            self.send_event(ErrorEvent(source="client", message="an empty message is not text input"))
            return
        self._spawn(self._send_text(text[:MAX_TEXT_CHARS]))

    # -- data channel ---------------------------------------------------------------------------
    def send_event(self, event: WireEvent) -> None:
        message = event.json_text()
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(message)
        else:
            self._outbox.append(message)

    def _flush_outbox(self) -> None:
        pending, self._outbox = self._outbox, []
        for message in pending:
            self._channel.send(message)

    # -- media and orchestrator -----------------------------------------------------------------
    async def _send_text(self, text: str) -> None:
        with contextlib.suppress(OrchestratorUnavailable):  # the orchestrator loop reports and closes
            await self.link.send_text(text)

    async def _mic_loop(self, track: MediaStreamTrack) -> None:
        """Mic audio to the orchestrator. A browser may offer more than one audio section; the first
        track with frames is the microphone, the others are read (or aiortc queues them) and dropped."""
        converter = MicConverter()
        pending = bytearray()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._mic = self._mic or track
            if track is not self._mic:
                continue
            self.last_inbound = time.monotonic()
            pending += converter.convert(frame)
            if len(pending) >= self._mic_chunk_bytes:
                chunk, pending = bytes(pending), bytearray()
                try:
                    await self.link.send_audio(chunk)
                except OrchestratorUnavailable:
                    return

    async def _orchestrator_loop(self) -> None:
        reason = "the conversation ended"
        try:
            async for item in self.link.events():
                if isinstance(item, bytes):
                    self.agent_track.play(item)
                else:
                    self._on_orchestrator_event(item)
            # The agent's last words (a goodbye, a follow-up) are still being played: let them finish.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.agent_track.played_out.wait(), PLAY_OUT_TIMEOUT_S)
        except OrchestratorUnavailable as exc:
            self.send_event(ErrorEvent(source="server", message=str(exc)))
            reason = str(exc)
        await self.close(reason)

    def _on_orchestrator_event(self, event: ServerEvent) -> None:
        if isinstance(event, TranscriptEvent):
            text = event.text.strip()
            if event.is_final and text:
                self.send_event(Transcription(text=text, replaces_previous=event.replaces_previous))
        elif isinstance(event, AgentText):
            self.send_event(event)
        elif isinstance(event, FORWARDED_EVENTS):
            if isinstance(event, Interrupted):
                self.agent_track.stop_speaking()
            self.send_event(event)

    async def _drain_channel(self) -> None:
        """Let the last events (an error, `disconnect`) leave before the transport closes."""
        channel = self._channel
        if channel is None or channel.readyState != "open" or channel.bufferedAmount == 0:
            return
        drained = asyncio.Event()
        channel.once("bufferedamountlow", drained.set)  # the threshold is 0: everything handed to SCTP
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained.wait(), DRAIN_TIMEOUT_S)

    # -- closing --------------------------------------------------------------------------------
    async def close(self, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        logger.info("closing peer %s: %s", self.pc_id, reason)
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._drain_channel()
        self.agent_track.stop()
        await self.link.close()
        await self.pc.close()
        await self._on_closed(self)
