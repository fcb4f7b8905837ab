"""The ASR service object: one model, one worker pool, shared by every request of the process."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from fastapi import UploadFile
from faster_whisper import WhisperModel
from prometheus_client import Histogram

from services.asr.diarization.base import Diarizer, SpeakerCount, SpeakerTurn
from services.asr.diarization.loader import load_diarizer
from services.asr.models import load_asr_model, pick_device
from services.asr.settings import AsrSettings
from services.asr.short_context import TurnContext
from services.asr.streaming.scheduler import DecodeScheduler
from services.asr.streaming.ssap import VoiceProfiles
from services.asr.transcriber import Transcriber, Transcription, UtteranceText
from services.common.audio import TARGET_RATE, decode_audio
from services.common.errors import InvalidInput
from services.common.models import LoadedModel
from services.common.workers import InferencePool

INFERENCE_SECONDS = Histogram(
    "asr_inference_seconds",
    "Time spent decoding one file",
    ["mode"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
MAX_FILENAME = 255


@dataclass
class FileResult:
    filename: str
    transcription: Transcription
    processing_time: float


class AsrService:
    def __init__(self, settings: AsrSettings) -> None:
        self.settings = settings
        self.device, _ = pick_device(settings)
        self.whisper: LoadedModel[WhisperModel] = LoadedModel("ASR model", settings.asr_model)
        self.diarizer: LoadedModel[Diarizer] = LoadedModel("diarization", settings.diarization_model)
        self.pool = InferencePool("asr", settings.asr_workers, settings.asr_queue_size)
        self._transcriber: Transcriber | None = None
        self._lock = threading.Lock()
        self.stream_scheduler = DecodeScheduler(self._decode_turn, settings.asr_stream_workers)
        self.streams = 0  # open /ws/transcribe/vad connections
        self.voice_profiles = VoiceProfiles(settings.voice_url, settings.ssap_timeout_s)

    def _decode_turn(self, audio: np.ndarray, language: str | None, context: TurnContext | None) -> UtteranceText:
        return self.transcriber().transcribe_utterance(audio, language, context)

    def start_loading(self) -> None:
        threading.Thread(target=self._load_models, name="asr-model-loader", daemon=True).start()

    def _load_models(self) -> None:
        self.whisper.load(lambda: load_asr_model(self.settings))
        # A bad DIARIZATION_MODEL is reported by its endpoint; it does not take /transcribe down.
        self.diarizer.load(lambda: load_diarizer(self.settings, self.device))

    def status(self) -> tuple[bool, dict[str, object]]:
        """Ready once Whisper is loaded and the diarizer has loaded or failed."""
        ready = self.whisper.value is not None and self.diarizer.settled
        details = {**self.whisper.status(), "device": self.device, "diarization": self.diarizer.status()}
        return ready, details

    def transcriber(self) -> Transcriber:
        model = self.whisper.get()  # raises 503 while loading or when the model failed
        with self._lock:
            if self._transcriber is None:
                self._transcriber = Transcriber(model, self.settings)
            return self._transcriber

    def validate_language(self, language: str | None) -> str | None:
        if language is None or not language.strip():
            return None
        code = language.strip().lower()
        supported = self.transcriber().languages
        if code not in supported:
            raise InvalidInput(
                f"unsupported language {language!r}: use an ISO 639-1 code the model knows "
                f"(e.g. en, vi, fr, ja, ko, zh, ru) or omit it to auto-detect"
            )
        return code

    async def _decode_upload(self, upload: UploadFile) -> np.ndarray:
        data = await upload.read()
        audio = await asyncio.to_thread(
            decode_audio, data, sample_rate=TARGET_RATE, max_duration_s=self.settings.asr_max_duration_s
        )
        duration = audio.size / TARGET_RATE
        if duration < self.settings.asr_min_duration_s:
            raise InvalidInput(
                f"audio is too short ({duration:.2f} s); the minimum is {self.settings.asr_min_duration_s} s"
            )
        return audio

    async def transcribe_upload(self, upload: UploadFile, language: str | None) -> FileResult:
        transcriber = self.transcriber()
        code = self.validate_language(language)
        started = time.perf_counter()
        audio = await self._decode_upload(upload)
        result = await self.pool.run(transcriber.transcribe, audio, code)
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels("parallel" if result.parallel else "sequential").observe(elapsed)
        return FileResult(_filename(upload), result, round(elapsed, 3))

    async def transcribe_speakers(
        self, upload: UploadFile, language: str | None, count: SpeakerCount
    ) -> tuple[FileResult, list[SpeakerTurn]]:
        transcriber = self.transcriber()
        diarizer = self.diarizer.get()
        code = self.validate_language(language)
        started = time.perf_counter()
        audio = await self._decode_upload(upload)

        def run_both() -> tuple[Transcription, list[SpeakerTurn]]:
            # Whisper and the speaker model run side by side on the two halves of the job.
            with ThreadPoolExecutor(1, thread_name_prefix="asr-diarize") as side:
                turns = side.submit(diarizer.diarize, audio, count)
                transcription = transcriber.transcribe(audio, code, words=True)
                return transcription, turns.result()

        transcription, turns = await self.pool.run(run_both)
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels("diarized").observe(elapsed)
        return FileResult(_filename(upload), transcription, round(elapsed, 3)), turns


def _filename(upload: UploadFile) -> str:
    return (upload.filename or "audio")[:MAX_FILENAME]
