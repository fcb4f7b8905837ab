"""The typed wire protocols read and write the API reference's own examples unchanged."""

import json

import pytest
from pydantic import TypeAdapter

from services.common.protocols import datachannel, transcribe, tts, voice_chat
from services.common.protocols.base import ErrorEvent, ProtocolError, parse_event

# The reference's examples, verbatim (../shared/api-reference).
REFERENCE_EVENTS = [
    (transcribe.SERVER_EVENTS, {"type": "transcript", "text": "Xin chào bạn", "is_final": False}),
    (transcribe.SERVER_EVENTS, {"type": "transcript", "text": "Xin chào bạn ơi.", "is_final": True}),
    (
        transcribe.SERVER_EVENTS,
        {
            "type": "ssap",
            "properties": {
                "gender": {"female": 0.92, "male": 0.08},
                "age": {"adult": 0.75, "young": 0.2},
                "emotion": {"neutral": 0.6, "happy": 0.3},
            },
        },
    ),
    (voice_chat.SERVER_EVENTS, {"type": "ready"}),
    (voice_chat.SERVER_EVENTS, {"type": "thinking"}),
    (voice_chat.SERVER_EVENTS, {"type": "agent_text", "text": "Chào bạn! Tôi có thể"}),
    (voice_chat.SERVER_EVENTS, {"type": "agent_end"}),
    (voice_chat.SERVER_EVENTS, {"type": "latency", "step": "llm", "value": "142ms"}),
    (voice_chat.SERVER_EVENTS, {"type": "error", "source": "llm", "message": "..."}),
    (voice_chat.SERVER_EVENTS, {"type": "disconnect", "reason": "timeout"}),
    (voice_chat.SERVER_EVENTS, {"type": "transcript", "text": "...", "is_final": True}),
    (tts.SERVER_EVENTS, {"type": "end"}),
]


@pytest.mark.parametrize(
    ("adapter", "event"), REFERENCE_EVENTS, ids=lambda v: v.get("type") if isinstance(v, dict) else ""
)
def test_reference_events_round_trip(adapter: TypeAdapter, event: dict) -> None:
    parsed = parse_event(adapter, json.dumps(event))
    assert parsed is not None and parsed.wire() == event


def test_datachannel_events_are_the_references() -> None:
    assert datachannel.Transcription(text="Xin chào bạn.").wire() == {"type": "transcription", "text": "Xin chào bạn."}
    assert datachannel.AgentText(text=" giúp gì cho bạn?").wire() == {"type": "agent_text", "text": " giúp gì cho bạn?"}
    replacing = datachannel.Transcription(text="Hold on, hold fast.", replaces_previous=True).wire()
    assert replacing == {"type": "transcription", "text": "Hold on, hold fast.", "replaces_previous": True}


def test_one_error_shape_with_optional_source_and_code() -> None:
    assert ErrorEvent(message="m").wire() == {"type": "error", "message": "m"}
    assert ErrorEvent(message="m", source="tts").wire() == {"type": "error", "message": "m", "source": "tts"}
    assert ErrorEvent(message="m", code="rate_limited").wire() == {
        "type": "error",
        "message": "m",
        "code": "rate_limited",
    }


def test_additions_are_sent_only_when_set() -> None:
    assert transcribe.TranscriptEvent(text="hi", is_final=True, language="vi").wire()["language"] == "vi"
    assert tts.EndEvent.of("spk", frames=3, samples=36_000).wire() == {
        "type": "end",
        "speaker_id": "spk",
        "frames": 3,
        "duration": 1.5,
    }
    assert voice_chat.Latency.of("tts_first", 0.0654).wire()["value"] == "65ms"


def test_unknown_event_types_are_skipped_and_bad_known_ones_refused() -> None:
    assert parse_event(voice_chat.SERVER_EVENTS, '{"type": "something_new", "x": 1}') is None
    with pytest.raises(ProtocolError, match="agent_text"):
        parse_event(voice_chat.SERVER_EVENTS, '{"type": "agent_text"}')
    with pytest.raises(ProtocolError, match="JSON object"):
        parse_event(tts.SERVER_EVENTS, "[1, 2]")


def test_voice_chat_client_messages() -> None:
    config = voice_chat.parse_config('{"type": "config", "language": "en", "ssap": true}')
    assert (config.language, config.ssap) == ("en", True)
    assert voice_chat.parse_client_message('{"type": "text_input", "text": "  hi  "}') == voice_chat.TextInput(
        text="hi"
    )
    audio = voice_chat.parse_client_message('{"audio_event": {"audio_base_64": "AAAAAA=="}}')
    assert isinstance(audio, voice_chat.Audio) and audio.pcm == bytes(4)
    for bad, needle in [
        ('{"type": "config", "language": "xx"}', "first message"),
        ('{"type": "text_input", "text": 5}', "non-empty"),
        ('{"audio_event": {"audio_base_64": 5}}', "audio_base_64"),
        ('{"type": "config"}', "only accepted as the first"),
    ]:
        with pytest.raises(ProtocolError, match=needle):
            voice_chat.parse_client_message(bad)
    with pytest.raises(ProtocolError, match="language"):
        voice_chat.parse_config('{"type": "config", "language": "xx"}')
