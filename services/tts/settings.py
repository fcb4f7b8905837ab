"""TTS service settings (environment variables of the same name, upper-case)."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.common.languages import DEFAULT_LANGUAGE, Language
from services.common.settings import ServiceSettings

OUTPUT_RATE = 24_000
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
KUMO = "09479a8d-d927-50a4-acf5-bebcd5aed18a"  # the built-in Kokoro Japanese male speaker
# OpenAI's voices that sound male, as Kumo in Japanese; every other (voice, language) is the language's default.
DEFAULT_OPENAI_VOICES: dict[str, dict[Language, str]] = {
    name: {"ja": KUMO} for name in ("ash", "ballad", "echo", "fable", "onyx", "verse")
}


class TtsSettings(ServiceSettings):
    catalog_url: str = Field(
        "http://127.0.0.1:8206", description="Base URL of the catalog service (speakers and collections)."
    )
    catalog_cache_s: float = Field(
        30.0,
        ge=0,
        description="How long catalog answers are reused (a speaker's new reference recording is used at most "
        "this long after it changed).",
    )
    tts_default_language: Language = Field(
        DEFAULT_LANGUAGE, description="Language of a request that names none (the API reference's default)."
    )
    tts_openai_language: Language = Field(
        "en",
        description="Language of a POST /v1/audio/speech that names neither a language nor a catalog speaker "
        "(OpenAI clients send none).",
    )
    tts_openai_voices: dict[str, dict[Language, str]] = Field(
        default_factory=lambda: dict(DEFAULT_OPENAI_VOICES),
        description="JSON: an OpenAI voice name (alloy, ash, ...) -> {language: catalog speaker id} for POST "
        "/v1/audio/speech; a voice or language not listed is the language's default speaker. Default: the "
        "male-sounding voices (ash, ballad, echo, fable, onyx, verse) are Kumo in Japanese.",
    )
    tts_max_chars: int = Field(2000, ge=1, description="Longest text one request may synthesize (error beyond).")
    tts_workers: int = Field(2, ge=1, le=64, description="Sentences synthesized in parallel across connections.")
    tts_queue_size: int = Field(
        32, ge=0, description="Syntheses (a request, a /ws/tts message) that may wait for a worker; then busy errors."
    )
    tts_threads: int = Field(1, ge=1, description="onnxruntime threads per synthesis (Piper, Kokoro).")
    tts_idle_timeout_s: float = Field(300.0, gt=0, description="A /ws/tts connection idle this long is closed.")
    espeak_binary: str = Field(
        "espeak-ng",
        description="The espeak-ng program, used when it is on PATH (Debian package `espeak-ng`); otherwise "
        "libespeak-ng from the espeakng-loader wheel runs in process.",
    )
    f5tts_model: Path | None = Field(
        None,
        description="F5-TTS checkpoint (.safetensors/.pt) for voice cloning speakers; unset: those speakers "
        "answer an error. Needs the `f5tts` extra (torch + torchaudio, GPU recommended).",
    )
    f5tts_vocab: Path | None = Field(None, description="F5-TTS vocabulary file (default: the package's).")
    f5tts_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto`: CUDA when visible.")
    tts_reference_cache_mb: float = Field(
        64.0,
        ge=0,
        description="Memory for voice-cloning speakers' reference recordings fetched from the catalog (a 30 s "
        "recording is 1.4 MB); the least recently used go first; 0: fetched for every request.",
    )
