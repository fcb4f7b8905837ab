"""WS /ws/transcribe/vad: real-time transcription with VAD end-of-turn detection."""

from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError
from starlette.websockets import WebSocket

from services.asr.dependencies import AsrDep
from services.asr.settings import AsrSettings
from services.asr.streaming.session import StreamOptions, StreamSession
from services.asr.streaming.turns import TurnSettings
from services.common.auth import IdentityDep, forward_headers
from services.common.errors import ApiError, ServiceBusy
from services.common.protocols.base import ErrorEvent

router = APIRouter(tags=["streaming"])


class StreamQuery(BaseModel):
    silence_ms: int = Field(ge=100, le=5000)
    volume_threshold: float = Field(ge=0, le=1)
    partial_interval: float = Field(ge=0.2, le=30)
    ssap: bool = False
    turn_model: bool | None = None  # whether the turn model may end this stream's turns; None: the setting
    speech_events: bool = False  # added: a `speech_started` event when a turn starts
    language: str | None = Field(None, max_length=8)


@router.websocket("/ws/transcribe/vad")
async def transcribe_stream(ws: WebSocket, asr: AsrDep, identity: IdentityDep) -> None:
    s = asr.settings
    await ws.accept()
    try:
        query = StreamQuery.model_validate(
            {
                "silence_ms": s.stream_silence_ms,
                "volume_threshold": s.stream_volume_threshold,
                "partial_interval": s.stream_partial_interval,
                **dict(ws.query_params),
            }
        )
        language = asr.validate_language(query.language)
    except ValidationError as exc:
        first = exc.errors()[0]
        await _refuse(ws, f"invalid query parameter {first['loc'][0]}: {first['msg']}", 1008)
        return
    except ApiError as exc:
        await _refuse(ws, exc.message, 1013 if exc.status_code == 503 else 1008)
        return
    try:
        place = asr.streams.acquire()  # busy is decided by the model's budget
    except ServiceBusy as exc:
        await _refuse(ws, exc.message, 1013)
        return
    options = StreamOptions(
        turns=TurnSettings(
            silence_ms=query.silence_ms,
            volume_threshold=query.volume_threshold,
            partial_interval=query.partial_interval,
            model_pause_ms=s.stream_turn_model_pause_ms if asks_turn_model(query, s) and asr.turn_model.value else 0,
        ),
        language=language,
        validate_language=asr.validate_language,
        ssap=query.ssap,
        idle_timeout_s=s.stream_idle_timeout_s,
        ssap_early_s=max(s.ssap_turn_voiced_s, s.ssap_min_voiced_s),
        ssap_min_s=s.ssap_min_voiced_s,
        ssap_drain_s=s.ssap_timeout_s,
        on_behalf=forward_headers(identity, s),
        turn_model=asr.turn_complete_probability,
        turn_threshold=s.stream_turn_model_threshold,
        speech_events=query.speech_events,
    )
    with place:
        await StreamSession(ws, asr.stream_scheduler, asr.voice_profiles, options).run()


def asks_turn_model(query: StreamQuery, settings: AsrSettings) -> bool:
    return settings.stream_turn_model_default if query.turn_model is None else query.turn_model


async def _refuse(ws: WebSocket, message: str, code: int) -> None:
    await ws.send_json(ErrorEvent(message=message).wire())
    await ws.close(code, message[:120])
