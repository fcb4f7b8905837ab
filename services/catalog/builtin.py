"""The speakers every installation has: one per engine voice the TTS service ships, seeded on start.

Ids are UUID v5 of `engine:voice:language`, so they are the same on every installation and restart
(collections made on one machine keep working on another)."""

import uuid
from dataclasses import dataclass

NAMESPACE = uuid.UUID("8d3b6f0e-5c1a-4f7e-9a51-7b0f2d6c9e10")
SHARED_USER = "default"


@dataclass(frozen=True)
class BuiltinSpeaker:
    name: str
    language: str
    engine: str
    voice: str
    is_default: bool = False

    @property
    def id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.engine}:{self.voice}:{self.language}"))


BUILTIN_SPEAKERS = (
    BuiltinSpeaker("Joe (Piper, English)", "en", "piper", "en_US-joe-medium", is_default=True),
    BuiltinSpeaker("Alpha (Kokoro, Japanese)", "ja", "kokoro", "jf_alpha", is_default=True),
    BuiltinSpeaker("Kumo (Kokoro, Japanese)", "ja", "kokoro", "jm_kumo"),
    BuiltinSpeaker("eSpeak Vietnamese", "vi", "espeak", "vi", is_default=True),
    BuiltinSpeaker("eSpeak English", "en", "espeak", "en-us"),
    BuiltinSpeaker("eSpeak French", "fr", "espeak", "fr-fr", is_default=True),
    BuiltinSpeaker("eSpeak Japanese", "ja", "espeak", "ja"),
    BuiltinSpeaker("eSpeak Korean", "ko", "espeak", "ko", is_default=True),
    BuiltinSpeaker("eSpeak Chinese (Mandarin)", "zh", "espeak", "cmn", is_default=True),
    BuiltinSpeaker("eSpeak Russian", "ru", "espeak", "ru", is_default=True),
)
