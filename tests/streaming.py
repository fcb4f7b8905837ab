"""A real WebSocket client for /ws/transcribe/vad that streams PCM at real-time pace."""

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field

import numpy as np
import websockets

RATE = 16_000


@dataclass
class Received:
    events: list[dict] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # perf_counter at arrival
    close_code: int | None = None

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("type") == kind]

    def finals(self) -> list[str]:
        return [e["text"] for e in self.events if e.get("type") == "transcript" and e["is_final"]]

    def turns(self) -> list[str]:
        """The user's turns: the finals, each one that `replaces_previous` in place of the one before it."""
        return user_turns(self.events)

    def partials(self) -> list[str]:
        return [e["text"] for e in self.events if e.get("type") == "transcript" and not e["is_final"]]


def user_turns(events: list[dict]) -> list[str]:
    """The texts of the final transcripts among `events`, a final that `replaces_previous` taking the place
    of the final before it (a turn the turn model ended early that the user went on with)."""
    turns: list[str] = []
    for event in events:
        if event.get("type") == "transcript" and event["is_final"]:
            if event.get("replaces_previous") and turns:
                turns.pop()
            turns.append(event["text"])
    return turns


def stream_events(client, audio: np.ndarray, query: str) -> list[dict]:
    """Stream `audio` to a TestClient's /ws/transcribe/vad in 100 ms chunks (as fast as they go: turn ends are
    decided on the stream's clock), then `end`; every event."""
    with client.websocket_connect(f"/ws/transcribe/vad?{query}") as ws:
        for start in range(0, audio.size, RATE // 10):
            ws.send_text(audio_message(audio[start : start + RATE // 10]))
        ws.send_text(json.dumps({"type": "end"}))
        events = []
        while (message := ws.receive())["type"] != "websocket.close":
            events.append(json.loads(message["text"]))
    return events


def audio_message(samples: np.ndarray) -> str:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return json.dumps({"audio_event": {"audio_base_64": base64.b64encode(pcm).decode()}})


async def receive_all(ws, received: Received) -> None:
    try:
        async for message in ws:
            received.events.append(json.loads(message))
            received.times.append(time.perf_counter())
    except websockets.ConnectionClosed:
        pass
    received.close_code = ws.close_code


async def stream(
    url: str,
    samples: np.ndarray,
    *,
    chunk_ms: int = 100,
    realtime: bool = True,
    end: bool = True,
    tail_wait_s: float = 3.0,
) -> tuple[Received, float]:
    """Stream `samples`, then (optionally) `end`; returns what came back and the time the last
    chunk was sent."""
    received = Received()
    chunk = RATE * chunk_ms // 1000
    async with websockets.connect(url, max_size=None) as ws:
        reader = asyncio.create_task(receive_all(ws, received))
        start = time.perf_counter()
        last_sent = start
        for i, offset in enumerate(range(0, samples.size, chunk)):
            if realtime:
                await asyncio.sleep(max(0.0, start + i * chunk_ms / 1000 - time.perf_counter()))
            await ws.send(audio_message(samples[offset : offset + chunk]))
            last_sent = time.perf_counter()
        if end:
            await ws.send(json.dumps({"type": "end"}))
        try:
            await asyncio.wait_for(reader, timeout=tail_wait_s + 30)
        except TimeoutError:
            await ws.close()
            await reader
    return received, last_sent
