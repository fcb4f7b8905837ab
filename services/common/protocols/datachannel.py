"""The WebRTC "chat" DataChannel: plain text in (it bypasses the ASR); JSON events out."""

from typing import Literal

from services.common.protocols.base import WireEvent
from services.common.protocols.voice_chat import AgentText


class Transcription(WireEvent):
    """The final transcript of what the user said."""

    type: Literal["transcription"] = "transcription"
    text: str


__all__ = ["AgentText", "Transcription"]
