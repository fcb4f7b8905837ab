"""The voice-chat service object: its settings, the endpoints a session may use, and the clients
(LLM, ASR stream, TTS stream) each session gets."""

from dataclasses import dataclass

from fastapi import WebSocket

from services.common.auth import Identity, forward_headers
from services.common.protocols.voice_chat import Config
from services.voicechat.addresses import resolve
from services.voicechat.asr_client import AsrClient
from services.voicechat.llm import Llm
from services.voicechat.session import Session
from services.voicechat.settings import VoicechatSettings
from services.voicechat.tts_client import TtsClient
from services.voicechat.urls import Endpoint, check_url


@dataclass(frozen=True)
class Endpoints:
    llm_base_url: Endpoint
    tts_ws_url: Endpoint
    asr_ws_url: Endpoint


class VoicechatService:
    def __init__(self, settings: VoicechatSettings) -> None:
        self.settings = settings
        self.sessions = 0  # open on this replica

    @property
    def full(self) -> bool:
        return self.sessions >= self.settings.max_sessions

    def endpoints(self, config: Config) -> Endpoints:
        """The configured defaults, or the client's URLs where the allowlist admits them (UrlNotAllowed); a
        client's URL is resolved and its addresses checked by `check_addresses` and again at each connection."""
        s = self.settings

        def pick(value: str | None, default: str, kind: str, schemes: tuple[str, ...]) -> Endpoint:
            if value is None or value == default:
                return Endpoint(default)
            return check_url(value, kind, s.allowed_urls, schemes)

        return Endpoints(
            llm_base_url=pick(config.llm_base_url, s.llm_base_url, "llm_base_url", ("http", "https")),
            tts_ws_url=pick(config.tts_ws_url, s.tts_ws_url, "tts_ws_url", ("ws", "wss")),
            asr_ws_url=pick(config.asr_ws_url, s.asr_ws_url, "asr_ws_url", ("ws", "wss")),
        )

    @staticmethod
    async def check_addresses(endpoints: Endpoints) -> None:
        """Resolve the client's own URLs now, so a refused address is the config's error rather than a
        failure after `ready` (OutboundRefused). Every connection checks again: DNS can change."""
        for endpoint in (endpoints.llm_base_url, endpoints.tts_ws_url, endpoints.asr_ws_url):
            if endpoint.target is not None:
                await resolve(endpoint.target)

    def session(self, ws: WebSocket, config: Config, endpoints: Endpoints, identity: Identity) -> Session:
        """A session with clients of its own; its LLM client is closed by `Session.run`'s caller. The ASR and
        TTS are called with the caller's key (so TTS speaks only the caller's and shared speakers), the
        configured ones only: a client's own URL never gets the key."""
        s = self.settings
        on_behalf = forward_headers(identity, s)
        llm_endpoint = endpoints.llm_base_url
        # The configured key goes to the configured LLM only; a client's own LLM URL gets none (llm.py).
        api_key = s.llm_api_key.get_secret_value() if llm_endpoint.target is None else None
        llm = Llm(llm_endpoint, config.llm_model or s.llm_model, api_key, s.llm_timeout_s, s.llm_max_tokens)
        asr_headers = on_behalf if endpoints.asr_ws_url.target is None else {}
        # speech_events: barge-in waits for the ASR's VAD to hear speech (session.py); an ASR that never sends
        # them is not waited for.
        asked = (("ssap", config.ssap), ("turn_model", s.agent_turn_model), ("speech_events", True))
        flags = tuple(flag for flag, on in asked if on)
        asr = AsrClient(endpoints.asr_ws_url, s.agent_silence_ms, config.language, flags, asr_headers)
        tts_headers = on_behalf if endpoints.tts_ws_url.target is None else {}
        return Session(ws, s, config, llm, TtsClient(endpoints.tts_ws_url, tts_headers), asr)

    def status(self) -> tuple[bool, dict[str, object]]:
        s = self.settings
        return True, {
            "llm": s.llm_base_url,
            "tts": s.tts_ws_url,
            "asr": s.asr_ws_url,
            "sessions": self.sessions,
            "max_sessions": s.max_sessions,
        }
