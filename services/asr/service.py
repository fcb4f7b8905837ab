"""The ASR service object: the Whisper and diarization model managers on one budget of threads,
shared by every request and stream of the process. All work on an upload (decoding it, VAD,
transcription, diarization, dialogue building) runs on the budget; busy is decided by its gates."""

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
from fastapi import UploadFile
from prometheus_client import Histogram

from services.asr.cpu_headroom import CpuHeadroom
from services.asr.dialogues import Dialogue, build_dialogues
from services.asr.diarization.base import Diarizer, SpeakerCount, SpeakerTurn
from services.asr.diarization.loader import load_diarizer
from services.asr.models import load_asr_model, pick_device, solo_threads
from services.asr.settings import AsrSettings
from services.asr.short_context import TurnContext
from services.asr.streaming.scheduler import STREAM_LANE, TURN_WORK, VAD_LANE, DecodeScheduler
from services.asr.streaming.ssap import VoiceProfiles
from services.asr.streaming.turn_model import TurnModel
from services.asr.transcriber import TRANSCRIBE, DecodeRequest, FilePlan, Transcriber, Transcription, UtteranceText
from services.common.audio import TARGET_RATE, decode_audio
from services.common.errors import InvalidInput
from services.common.models import ModelManager, NotConfigured
from services.common.workers import Budget, Job, JobKind, Place, drop, results

INFERENCE_SECONDS = Histogram(
    "asr_inference_seconds",
    "Time spent decoding one file",
    ["mode"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
MAX_FILENAME = 255
TURN_MODEL_OFF = "off"
FILE_LANE = "files"
FILE_WORK = JobKind("file", FILE_LANE)  # decoding, transcription, diarization, dialogues of an upload
# The solo copy is used when at most this much of its threads' CPUs is taken by other processes.
SOLO_CPU_SLACK = 0.5


@dataclass
class FileResult:
    filename: str
    transcription: Transcription
    processing_time: float


class AsrService:
    def __init__(self, settings: AsrSettings) -> None:
        self.settings = settings
        self.device, _ = pick_device(settings)
        self.solo_threads = solo_threads(settings)
        self.cpu_headroom = CpuHeadroom()
        # Whisper runs `asr_workers` decodes at once (its CTranslate2 replicas); files and streams have
        # threads of their own, so a long file never holds a stream's final, whose calls interleave with
        # the file's window by window inside the model.
        lanes = {FILE_LANE: settings.asr_workers, STREAM_LANE: settings.asr_stream_workers}
        self.pool = Budget("asr", {**lanes, VAD_LANE: settings.asr_stream_workers})
        self.requests = self.pool.gate(
            settings.asr_workers + settings.asr_queue_size,
            f"asr is at capacity ({settings.asr_workers + settings.asr_queue_size} requests); retry shortly",
        )
        self.streams = self.pool.gate(
            settings.stream_max_connections, f"too many streams (limit {settings.stream_max_connections}); retry later"
        )
        self.whisper: ModelManager[Transcriber] = ModelManager("ASR model", settings.asr_model, self.pool)
        self.diarizer: ModelManager[Diarizer] = ModelManager("diarization", settings.diarization_model, self.pool)
        self.turn_model: ModelManager[TurnModel] = ModelManager("turn model", settings.stream_turn_model, self.pool)
        self.stream_scheduler = DecodeScheduler(self._decode_turn, self.pool)
        self.voice_profiles = VoiceProfiles(settings.voice_url, settings.ssap_timeout_s)

    def _decode_turn(self, audio: np.ndarray, language: str | None, context: TurnContext | None) -> UtteranceText:
        return self.whisper.get().transcribe_utterance(audio, language, context)

    def start_loading(self) -> None:
        if self.solo_threads:
            self.cpu_headroom.start()
        threading.Thread(target=self._load_models, name="asr-model-loader", daemon=True).start()

    def _load_models(self) -> None:
        self.whisper.load(self._load_transcriber)
        # A missing turn model is reported by /readyz; streams then end turns on silence only.
        self.turn_model.load(self._load_turn_model)
        # A bad DIARIZATION_MODEL is reported by its endpoint; it does not take /transcribe down.
        self.diarizer.load(lambda: load_diarizer(self.settings, self.device))

    def _load_transcriber(self) -> Transcriber:
        threads = self.solo_threads
        solo = load_asr_model(self.settings, threads=threads, workers=1) if threads else None
        return Transcriber(load_asr_model(self.settings), self.settings, solo)

    def _load_turn_model(self) -> TurnModel:
        if self.settings.stream_turn_model == TURN_MODEL_OFF:
            raise NotConfigured("STREAM_TURN_MODEL is off: streams end turns on silence only")
        return TurnModel(self.settings.stream_turn_model)

    async def turn_complete_probability(self, audio: np.ndarray) -> float:
        """The turn model on a stream's turn, a job on the streams' VAD lane (never behind a decode)."""
        return await self.turn_model.run(TURN_WORK, TurnModel.complete_probability, audio)

    def status(self) -> tuple[bool, dict[str, object]]:
        """Ready once Whisper is loaded and the diarizer and the turn model have loaded or failed."""
        ready = self.whisper.value is not None and self.diarizer.settled and self.turn_model.settled
        details = {
            **self.whisper.status(),
            "device": self.device,
            "solo_threads": self.solo_threads,
            "free_cpus": round(self.cpu_headroom.free, 2),
            "diarization": self.diarizer.status(),
            "turn_model": self.turn_model.status(),
        }
        return ready, details

    def validate_language(self, language: str | None) -> str | None:
        if language is None or not language.strip():
            return None
        code = language.strip().lower()
        supported = self.whisper.get().languages  # 503 while loading or when the model failed
        if code not in supported:
            raise InvalidInput(
                f"unsupported language {language!r}: use an ISO 639-1 code the model knows "
                f"(e.g. en, vi, fr, ja, ko, zh, ru) or omit it to auto-detect"
            )
        return code

    def _decode_upload(self, upload: UploadFile) -> np.ndarray:
        """On a budget thread: the upload (already spooled by the server) as 16 kHz mono float32,
        refused past the duration cap while it decodes."""
        upload.file.seek(0)
        audio = decode_audio(
            upload.file.read(), sample_rate=TARGET_RATE, max_duration_s=self.settings.asr_max_duration_s
        )
        duration = audio.size / TARGET_RATE
        if duration < self.settings.asr_min_duration_s:
            raise InvalidInput(
                f"audio is too short ({duration:.2f} s); the minimum is {self.settings.asr_min_duration_s} s"
            )
        return audio

    def _decode_and_plan(
        self, transcriber: Transcriber, upload: UploadFile, language: str | None, words: bool, request: DecodeRequest
    ) -> FilePlan:
        return transcriber.plan(self._decode_upload(upload), language, words=words, request=request)

    async def _transcribe(self, place: Place, plan: FilePlan) -> Transcription:
        """The plan's pieces, each a job of the request (a long file's pieces run on every free file
        thread, in the request's turn), put together on the loop (a linear pass). A lone piece while
        nothing else runs on the model, on CPUs no other process keeps busy, is decoded on the solo model
        with every CPU thread."""
        jobs, solo = self._submit_pieces(place, plan)
        return self.whisper.get().collect(plan, await results(*jobs), solo=solo)

    def _submit_pieces(self, place: Place, plan: FilePlan) -> tuple[list[Job], bool]:
        """A job per piece of the plan, in the request's turn, and whether they go to the solo model."""
        solo = (
            len(plan.pieces) == 1
            and self.pool.idle(FILE_LANE, STREAM_LANE)
            and self.cpu_headroom.free >= self.solo_threads - SOLO_CPU_SLACK
        )
        jobs = [
            self.whisper.submit(FILE_WORK, Transcriber.decode_piece, plan, index, solo, order=place.order)
            for index in range(len(plan.pieces))
        ]
        return jobs, solo

    async def transcribe_upload(
        self,
        place: Place,
        upload: UploadFile,
        language: str | None,
        *,
        words: bool = False,
        request: DecodeRequest = TRANSCRIBE,
    ) -> FileResult:
        """`place`: the request's admission (its jobs run in its order); `words`: word timestamps;
        `request`: the task, prompt and temperature."""
        code = self.validate_language(language)
        started = time.perf_counter()
        plan = await self.whisper.run(FILE_WORK, self._decode_and_plan, upload, code, words, request, order=place.order)
        result = await self._transcribe(place, plan)
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels(result.mode).observe(elapsed)
        return FileResult(_filename(upload), result, round(elapsed, 3))

    async def transcribe_in_order(
        self, place: Place, upload: UploadFile, language: str | None, request: DecodeRequest
    ) -> AsyncIterator[Transcription]:
        """The transcription so far each time the next piece is decoded, in order (a file of one window is
        one step), the pieces decoded as transcribe_upload decodes them; the last is the whole file's."""
        code = self.validate_language(language)
        plan = await self.whisper.run(FILE_WORK, self._decode_and_plan, upload, code, False, request, order=place.order)
        jobs, solo = self._submit_pieces(place, plan)
        done: list[list] = []
        try:
            for job in jobs:
                done.append(await job.future)
                yield self.whisper.get().collect(plan, done, solo=solo)
        finally:  # the rest dropped when the client is gone or a piece failed
            drop(jobs[len(done) :])
        if not jobs:
            yield self.whisper.get().collect(plan, [])

    async def transcribe_speakers(
        self, place: Place, upload: UploadFile, language: str | None, count: SpeakerCount
    ) -> tuple[FileResult, list[Dialogue]]:
        """Words and who said them: Whisper and the speaker model side by side on the decoded upload,
        then the words given to speakers, each step a job of this request on the budget."""
        self.diarizer.get()  # 503 before the upload is decoded
        code = self.validate_language(language)
        started = time.perf_counter()
        audio = await self.pool.run(FILE_WORK, self._decode_upload, upload, order=place.order)
        diarization = self.diarizer.submit(FILE_WORK, _diarize, audio, count, order=place.order)
        try:
            plan = await self.whisper.run(FILE_WORK, _plan_with_words, audio, code, order=place.order)
            transcription = await self._transcribe(place, plan)
        except BaseException:
            diarization.future.cancel()
            raise
        (turns,) = await results(diarization)
        words = [w for segment in transcription.segments for w in segment.words]
        dialogues = await self.pool.run(
            FILE_WORK, build_dialogues, words, turns, self.settings.dialogue_max_pause_s, order=place.order
        )
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels("diarized").observe(elapsed)
        return FileResult(_filename(upload), transcription, round(elapsed, 3)), dialogues


def _plan_with_words(transcriber: Transcriber, audio: np.ndarray, language: str | None) -> FilePlan:
    return transcriber.plan(audio, language, words=True)


def _diarize(diarizer: Diarizer, audio: np.ndarray, count: SpeakerCount) -> list[SpeakerTurn]:
    return diarizer.diarize(audio, count)


def _filename(upload: UploadFile) -> str:
    return (upload.filename or "audio")[:MAX_FILENAME]
