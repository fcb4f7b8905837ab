"""The voice service object: the speaker model with its AS-Norm cohort, AASIST and the profilers,
managed on one budget of threads, the voice-print store and the audio kept on disk, shared by every
request of the process. A request takes its place in the budget before any upload is decoded; its
decoding and inference run on the budget."""

import asyncio
import contextlib
import logging
import threading
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi import UploadFile

from services.common.audio import decode_audio
from services.common.auth import Identity
from services.common.db import async_database_url, create_engine, migrate, session_factory
from services.common.durable import Reconciled
from services.common.errors import ApiError, Conflict, Forbidden, InvalidInput, NotFound
from services.common.models import ModelManager, NotConfigured
from services.common.workers import Budget, JobKind, Place
from services.voice.antispoof.quality import QualityLimits, quality_issues
from services.voice.antispoof.runtime import OnnxAasist
from services.voice.audio_store import SPEAKERS, VERIFICATIONS, AudioStore, reconcile_with_rows
from services.voice.cohort import load_cohort
from services.voice.embedding.base import SpeakerEncoder
from services.voice.embedding.loader import load_encoder, pick_device
from services.voice.profile.profiler import Profile, VoiceProfiler
from services.voice.schemas import SpoofMode, SpoofResult, VerifyResult
from services.voice.scoring import AsNorm
from services.voice.settings import VoiceSettings
from services.voice.speech import RATE, seconds, speech_only
from services.voice.voiceprints import VoicePrint, VoicePrintStore, new_speaker_id

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIN_ANTISPOOF_S = 0.3  # shorter input gets 422: no model can judge it
PRUNE_INTERVAL_S = 3600
LANE = "voice"
WORK = JobKind("inference", LANE)  # decoding, trimming, embedding, scoring, profiling


@dataclass
class Verifier:
    encoder: SpeakerEncoder
    asnorm: AsNorm


@dataclass
class Embedded:
    """One uploaded file, decoded, trimmed and embedded."""

    name: str
    audio: np.ndarray
    embedding: np.ndarray
    speech_seconds: float


def display_name(upload: UploadFile) -> str:
    return (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255]


class VoiceService:
    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.pool = Budget("voice", {LANE: settings.voice_workers})
        capacity = settings.voice_workers + settings.voice_queue_size
        self.requests = self.pool.gate(capacity, f"voice is at capacity ({capacity} requests); retry shortly")
        self.verifier: ModelManager[Verifier] = ModelManager("speaker model", settings.speaker_model, self.pool)
        self.antispoof: ModelManager[OnnxAasist] = ModelManager(
            "anti-spoof model", str(settings.antispoof_model or "not configured"), self.pool
        )
        self.files = AudioStore(settings.voice_dir)
        self.engine = create_engine(async_database_url(settings.database_url, settings.voice_dir / "voice.db"))
        self.store = VoicePrintStore(session_factory(self.engine))
        self.quality = QualityLimits(
            settings.antispoof_min_duration_s, settings.antispoof_min_speech_s, settings.antispoof_max_clipped
        )
        self.profiler = VoiceProfiler(settings)
        self._pruner: asyncio.Task | None = None
        self.files_at_start = Reconciled()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await migrate(self.engine, MIGRATIONS, "voice_alembic_version")
        self.files_at_start = await reconcile_with_rows(self.files, self.engine)  # what a crash left
        threading.Thread(target=self._load_models, name="voice-model-loader", daemon=True).start()
        if self.settings.keep_verify_audio:
            self._pruner = asyncio.create_task(self._prune_forever())

    async def stop(self) -> None:
        if self._pruner:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        self.pool.shutdown()
        await self.engine.dispose()

    def _load_models(self) -> None:
        self.verifier.load(self._load_verifier)
        self.antispoof.load(self._load_antispoof)
        self.profiler.load()

    def _load_verifier(self) -> Verifier:
        encoder = load_encoder(self.settings)
        return Verifier(encoder, AsNorm(load_cohort(self.settings, encoder), self.settings.asnorm_top_n))

    def _load_antispoof(self) -> OnnxAasist:
        path = self.settings.antispoof_model
        if path is None:
            raise NotConfigured(
                "ANTISPOOF_MODEL is not set. Export AASIST to ONNX with `make antispoof-model` "
                "(see docs/VOICE.md) and set ANTISPOOF_MODEL to the .onnx file"
            )
        return OnnxAasist(path, pick_device(self.settings.antispoof_device), self.settings.voice_threads)

    async def _prune_forever(self) -> None:
        retention_s = self.settings.verify_audio_retention_days * 86400
        while True:
            await asyncio.to_thread(self.files.prune, VERIFICATIONS, retention_s)
            await asyncio.sleep(PRUNE_INTERVAL_S)

    def status(self) -> tuple[bool, dict[str, object]]:
        """Ready once the speaker model is loaded and the other models have loaded or failed."""
        ready = self.verifier.value is not None and self.antispoof.settled and self.profiler.settled
        details: dict[str, object] = {
            **self.verifier.status(),
            "antispoof": self.antispoof.status(),
            "profile": self.profiler.status(),
            "reference_audio_missing": len(self.files_at_start.missing),  # logged at start; prints kept
        }
        if self.verifier.value is not None:
            details["cohort_size"] = self.verifier.value.asnorm.cohort.shape[0]
        return ready, details

    # -- audio -------------------------------------------------------------------------------
    async def _read(self, upload: UploadFile) -> bytes:
        data = await upload.read()
        if not data:
            raise InvalidInput(f"{display_name(upload)}: the uploaded file is empty")
        return data

    def _decode(self, name: str, data: bytes) -> np.ndarray:
        try:
            return decode_audio(data, sample_rate=RATE, max_duration_s=self.settings.voice_max_duration_s)
        except ApiError as exc:
            exc.message = f"{name}: {exc.message}"
            raise

    def _embed(self, verifier: Verifier, name: str, data: bytes, min_speech_s: float) -> Embedded:
        """On a budget thread."""
        audio = self._decode(name, data)
        speech = speech_only(audio)
        if seconds(speech) < min_speech_s:
            raise InvalidInput(
                f"{name}: {seconds(speech):.2f} s of speech after removing silence; at least {min_speech_s} s needed"
            )
        return Embedded(name, audio, verifier.encoder.embed(speech), round(seconds(speech), 2))

    async def _embed_upload(self, place: Place, upload: UploadFile, min_speech_s: float) -> Embedded:
        data = await self._read(upload)
        return await self.verifier.run(WORK, self._embed, display_name(upload), data, min_speech_s, order=place.order)

    def _check_count(self, uploads: list[UploadFile]) -> None:
        if not uploads:
            raise InvalidInput("no files were uploaded")
        if len(uploads) > self.settings.voice_max_files:
            raise InvalidInput(f"{len(uploads)} files in one request; the limit is {self.settings.voice_max_files}")

    # -- verification ------------------------------------------------------------------------
    async def register(self, upload: UploadFile, name: str, description: str, identity: Identity) -> VoicePrint:
        """A new voice print, owned by the caller's user (`default` with keys off)."""
        verifier = self.verifier.get()
        with self.requests.acquire() as place:
            sample = await self._embed_upload(place, upload, self.settings.enroll_min_speech_s)
        speaker_id = new_speaker_id()
        path = await asyncio.to_thread(self.files.write, SPEAKERS, speaker_id, sample.audio)
        voice_print = VoicePrint(
            speaker_id,
            name,
            description,
            sample.embedding,
            verifier.encoder.model_id,
            path,
            sample.speech_seconds,
            datetime.now(UTC),
            identity.owner(None),
        )
        try:
            await self.store.add(voice_print)
        except BaseException:
            self.files.remove(path)
            raise
        logger.info("registered speaker %s (%.1f s of speech)", speaker_id, sample.speech_seconds)
        return voice_print

    async def voice_print(self, speaker_id: str, identity: Identity) -> VoicePrint:
        """A print the caller may use: its own or a shared one (any, for admin keys and with keys off);
        another user's is not found, so that ids cannot be probed."""
        found = await self.store.get(speaker_id)
        owners = identity.visible_owners()
        if found is None or not (owners is None or found.owner in owners or identity.is_admin):
            raise NotFound(f"no registered speaker {speaker_id}")
        return found

    async def voice_prints(self, identity: Identity, limit: int, offset: int) -> list[VoicePrint]:
        """The caller's prints and the shared ones (everyone's with keys off)."""
        return await self.store.list(identity.visible_owners(), limit, offset)

    async def delete(self, speaker_id: str, identity: Identity) -> None:
        found = await self.voice_print(speaker_id, identity)
        if not identity.can_write(found.owner):
            raise Forbidden(f"voice print {speaker_id} is shared; only an admin key may delete it")
        await self.store.delete(speaker_id)
        self.files.remove(found.reference_path)
        logger.info("deleted speaker %s", speaker_id)

    async def _current_embedding(self, place: Place, verifier: Verifier, voice_print: VoicePrint) -> np.ndarray:
        """The print's embedding in the current model's space, re-embedding its reference if the model changed."""
        if voice_print.model_id == verifier.encoder.model_id:
            return voice_print.embedding
        logger.info("re-embedding %s: made with %s", voice_print.id, voice_print.model_id)
        try:
            audio = await asyncio.to_thread(self.files.read, voice_print.reference_path)
        except (OSError, EOFError, wave.Error) as exc:
            logger.error("voice print %s: its recording cannot be read: %s", voice_print.id, exc)
            raise Conflict(
                f"voice print {voice_print.id} was made with {voice_print.model_id} and its recording, needed to "
                f"move it to {verifier.encoder.model_id}, cannot be read; register the speaker again"
            ) from exc
        embedding = await self.verifier.run(WORK, _embed_speech, audio, order=place.order)
        await self.store.replace_embedding(voice_print.id, embedding, verifier.encoder.model_id)
        return embedding

    async def verify(
        self, speaker_id: str, uploads: list[UploadFile], identity: Identity
    ) -> tuple[VoicePrint, list[VerifyResult]]:
        verifier = self.verifier.get()
        self._check_count(uploads)
        voice_print = await self.voice_print(speaker_id, identity)
        with self.requests.acquire() as place:
            enrolled = await self._current_embedding(place, verifier, voice_print)
            return voice_print, await self._score_all(place, verifier, enrolled, uploads)

    async def verify_with_reference(self, reference: UploadFile, uploads: list[UploadFile]) -> list[VerifyResult]:
        verifier = self.verifier.get()
        self._check_count(uploads)
        with self.requests.acquire() as place:
            enrolled = await self._embed_upload(place, reference, self.settings.verify_min_speech_s)
            return await self._score_all(place, verifier, enrolled.embedding, uploads)

    async def _score_all(
        self, place: Place, verifier: Verifier, enrolled: np.ndarray, uploads: list[UploadFile]
    ) -> list[VerifyResult]:
        tests = [await self._embed_upload(place, u, self.settings.verify_min_speech_s) for u in uploads]
        results = []
        for test in tests:
            score, cosine = verifier.asnorm.score(enrolled, test.embedding)
            path = None
            if self.settings.keep_verify_audio:
                path = await asyncio.to_thread(self.files.write, VERIFICATIONS, new_speaker_id(), test.audio)
            threshold = self.settings.verify_threshold
            results.append(
                VerifyResult(
                    file=test.name,
                    score=round(score, 4),
                    verdict="ACCEPT" if score > threshold else "REJECT",
                    path=path,
                    cosine=round(cosine, 4),
                    threshold=threshold,
                    speech_seconds=test.speech_seconds,
                )
            )
        return results

    # -- anti-spoofing -----------------------------------------------------------------------
    def threshold(self, mode: SpoofMode) -> float:
        return getattr(self.settings, f"antispoof_threshold_{mode}")

    def _spoof_one(self, model: OnnxAasist, name: str, data: bytes, threshold: float) -> SpoofResult:
        """On a budget thread."""
        audio = self._decode(name, data)
        if seconds(audio) < MIN_ANTISPOOF_S:
            raise InvalidInput(f"{name}: {seconds(audio):.2f} s of audio; at least {MIN_ANTISPOOF_S} s needed")
        issues = quality_issues(audio, self.quality)
        score = model.bonafide_probability(audio)
        is_real = score >= threshold
        span = (1.0 - threshold) if is_real else threshold
        confidence = abs(score - threshold) / span if span > 0 else 1.0
        return SpoofResult(
            file=name,
            result="real" if is_real else "fake",
            is_real=is_real,
            score=round(score, 4),
            threshold=threshold,
            confidence=round(min(confidence, 1.0), 4),
            qa_passed=not issues,
            qa_issues=issues,
        )

    async def detect_spoof(self, uploads: list[UploadFile], mode: SpoofMode) -> tuple[str, list[SpoofResult]]:
        model = self.antispoof.get()
        self._check_count(uploads)
        threshold = self.threshold(mode)
        results = []
        with self.requests.acquire() as place:
            for upload in uploads:
                data = await self._read(upload)
                name = display_name(upload)
                results.append(
                    await self.antispoof.run(WORK, self._spoof_one, name, data, threshold, order=place.order)
                )
        return model.model_id, results

    # -- profiling (SSAP) --------------------------------------------------------------------
    def _profile_one(self, name: str, data: bytes) -> Profile:
        """On a budget thread."""
        audio = self._decode(name, data)  # decoding errors already name the file
        try:
            return self.profiler.profile(audio)
        except ApiError as exc:
            exc.message = f"{name}: {exc.message}"
            raise

    async def profile(self, upload: UploadFile) -> Profile:
        with self.requests.acquire() as place:
            data = await self._read(upload)
            return await self.pool.run(WORK, self._profile_one, display_name(upload), data, order=place.order)


def _embed_speech(verifier: Verifier, audio: np.ndarray) -> np.ndarray:
    return verifier.encoder.embed(speech_only(audio))
