"""The ASR service object: one model, one worker pool, shared by every request of the process."""

import asyncio
import threading
import time
from dataclasses import dataclass

import numpy as np
from fastapi import UploadFile
from prometheus_client import Histogram

from services.asr.models import ModelManager
from services.asr.settings import AsrSettings
from services.asr.streaming.scheduler import DecodeScheduler
from services.asr.transcriber import Transcriber, Transcription, UtteranceText
from services.common.audio import TARGET_RATE, decode_audio
from services.common.errors import InvalidInput
from services.common.workers import InferencePool

INFERENCE_SECONDS = Histogram(
    "asr_inference_seconds", "Time spent decoding one file", ["mode"],
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
        self.models = ModelManager(settings)
        self.pool = InferencePool("asr", settings.asr_workers, settings.asr_queue_size)
        self._transcriber: Transcriber | None = None
        self._lock = threading.Lock()
        self.stream_scheduler = DecodeScheduler(self._decode_turn, settings.asr_stream_workers)
        self.streams = 0  # open /ws/transcribe/vad connections

    def _decode_turn(self, audio: np.ndarray, language: str | None) -> UtteranceText:
        return self.transcriber().transcribe_utterance(audio, language)

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.models.load, name="asr-model-loader", daemon=True)
        thread.start()
        return thread

    def transcriber(self) -> Transcriber:
        model = self.models.get()  # raises 503 while loading or when the model failed
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

    async def transcribe_upload(self, upload: UploadFile, language: str | None) -> FileResult:
        transcriber = self.transcriber()
        code = self.validate_language(language)
        data = await upload.read()
        started = time.perf_counter()
        audio = await asyncio.to_thread(
            decode_audio, data, sample_rate=TARGET_RATE, max_duration_s=self.settings.asr_max_duration_s
        )
        del data
        duration = audio.size / TARGET_RATE
        if duration < self.settings.asr_min_duration_s:
            raise InvalidInput(
                f"audio is too short ({duration:.2f} s); the minimum is {self.settings.asr_min_duration_s} s"
            )
        result = await self.pool.run(transcriber.transcribe, audio, code)
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels("batched" if result.batched else "sequential").observe(elapsed)
        filename = (upload.filename or "audio")[:MAX_FILENAME]
        return FileResult(filename, result, round(elapsed, 3))
