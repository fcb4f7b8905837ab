"""The WebRTC "chat" DataChannel: plain text in (it bypasses the ASR); JSON events out."""

from typing import Literal

from services.common.protocols.base import WireEvent
from services.common.protocols.voice_chat import AgentText


class Transcription(WireEvent):
    """The final transcript of what the user said."""

    type: Literal["transcription"] = "transcription"
    text: str
    # Added: this transcription replaces the one just before it (the user went on after a turn the turn
    # model had ended; see the stream's `replaces_previous`). Absent otherwise.
    replaces_previous: bool | None = None


__all__ = ["AgentText", "Transcription"]
