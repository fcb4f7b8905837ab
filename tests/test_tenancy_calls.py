"""Tenancy (issue 20 item 3): the fleet's calls between services act for the caller. Through the real key
check (tests/tenants.py), against stand-ins that record each handshake's or request's Authorization: a voice
chat session opens its configured ASR with the caller's key and a client's own URL without it, a WebRTC offer
is checked against the caller's speakers and opens the voice chat with its key (and only that user adds ICE
candidates to the peer), and an ASR stream's SSAP profiles are asked of the voice service with it."""

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.conftest import wait_until
from tests.in_process import ServiceApp
from tests.streaming import audio_message
from tests.tenants import Tenants, cloning_speaker, tenant_catalog
from tests.webrtc_peer import CallerPeer
from tests.word_recall import load

pytestmark = pytest.mark.service  # apps in process, and a catalog process of their own


class HandshakeRecorder:
    """A WebSocket server in a thread that keeps the Authorization header of each handshake, then closes (an
    ASR: the session reconnects on its next audio) or, as a voice chat, answers the config with `ready` and
    holds the session until the client ends it."""

    def __init__(self, answer_ready: bool = False) -> None:
        self.answer_ready = answer_ready
        self.authorizations: list[str | None] = []
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handle(self, connection: ServerConnection) -> None:
        self.authorizations.append(connection.request.headers.get("Authorization"))
        if self.answer_ready:
            connection.recv()
            connection.send(json.dumps({"type": "ready"}))
            with contextlib.suppress(ConnectionClosed):
                for _ in connection:
                    pass

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    """One catalog with keys on for the module: each test's services check alice's and bob's keys with it."""
    with tenant_catalog(tmp_path_factory.mktemp("tenants")) as t:
        yield t


def test_a_voice_chat_session_calls_the_configured_asr_with_its_key(
    service_app: ServiceApp, tmp_path: Path, tenants: Tenants
) -> None:
    configured, clients = HandshakeRecorder(), HandshakeRecorder()
    client_url = f"ws://127.0.0.1:{clients.port}/asr"
    t = tenants
    try:
        env = t.env(ASR_WS_URL=f"ws://127.0.0.1:{configured.port}/asr", ALLOWED_URLS=json.dumps([client_url]))
        with service_app("voicechat", tmp_path / "voicechat", **env) as chat:
            for config, recorder in (({"type": "config"}, configured), ({"asr_ws_url": client_url}, clients)):
                with chat.websocket_connect("/ws/voice-chat", headers=t.alice) as ws:
                    ws.send_json({"type": "config", **config})
                    assert ws.receive_json()["type"] == "ready"
                    wait_until(lambda r=recorder: r.authorizations, 10, "the session's ASR handshake")
    finally:
        configured.close()
        clients.close()
    assert configured.authorizations == [t.alice["Authorization"]]
    assert clients.authorizations == [None]  # a client's own URL never gets the key


def offer_sdp() -> str:
    """A real browser-like offer (audio and the chat DataChannel), from aiortc."""

    async def make() -> str:
        caller = CallerPeer()
        await caller.pc.setLocalDescription(await caller.pc.createOffer())
        sdp = caller.pc.localDescription.sdp
        await caller.close()
        return sdp

    return asyncio.run(make())


def test_a_webrtc_peer_gets_the_callers_speakers_its_key_and_its_candidates_only(
    service_app: ServiceApp, tmp_path: Path, tenants: Tenants
) -> None:
    chat = HandshakeRecorder(answer_ready=True)  # the voice chat
    t = tenants
    try:
        with httpx.Client(base_url=t.catalog, timeout=30) as http:
            voice = cloning_speaker(http, t.alice)["id"]
            env = t.env(CATALOG_URL=t.catalog, VOICECHAT_WS_URL=f"ws://127.0.0.1:{chat.port}/ws/voice-chat")
            with service_app("webrtc", tmp_path / "webrtc", **env) as webrtc:
                offer = {"sdp": offer_sdp(), "type": "offer", "speaker_id": voice}
                refused = webrtc.post("/offer", headers=t.bob, json=offer)
                assert refused.status_code == 422 and f"unknown speaker_id {voice}" in refused.json()["detail"]
                assert chat.authorizations == []
                answered = webrtc.post("/offer", headers=t.alice, json=offer)
                assert answered.status_code == 200, answered.text
                end_of_candidates = {"pc_id": answered.json()["pc_id"], "candidate": None}
                assert webrtc.post("/ice", headers=t.bob, json=end_of_candidates).status_code == 404
                assert webrtc.post("/ice", headers=t.alice, json=end_of_candidates).status_code == 200
    finally:
        chat.close()
    assert chat.authorizations == [t.alice["Authorization"]]


class ProfileRecorder(ThreadingHTTPServer):
    """A stand-in voice service: keeps the Authorization header of each POST /voice/profile and answers
    422 (too little voiced audio: no ssap event, no error)."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                recorder.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"detail": "too little voiced audio", "code": "invalid_input"}).encode()
                self.send_response(422)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_an_asr_stream_profiles_its_turns_with_the_callers_key(
    service_app: ServiceApp, tmp_path: Path, tenants: Tenants
) -> None:
    voice = ProfileRecorder()
    turn = np.concatenate([load("asr/sb_spk1_snt1.wav"), np.zeros(16_000, np.float32)])
    t = tenants
    try:
        with (
            service_app("asr", tmp_path / "asr", **t.env(VOICE_URL=voice.url, ASR_SOLO_THREADS="1")) as asr,
            asr.websocket_connect("/ws/transcribe/vad?ssap=true", headers=t.alice) as ws,
        ):
            for offset in range(0, turn.size, 1600):  # 100 ms chunks
                ws.send_text(audio_message(turn[offset : offset + 1600]))
            ws.send_text(json.dumps({"type": "end"}))
            events = []
            while (message := ws.receive())["type"] != "websocket.close":
                events.append(json.loads(message["text"]))
    finally:
        voice.shutdown()
    assert [e["type"] for e in events] and not [e for e in events if e["type"] == "error"], events
    assert voice.authorizations == [t.alice["Authorization"]]
