"""One decode queue shared by every stream: finals first, then early (speculative) finals, then
partials; within a priority, first come first served. One worker never takes partials, so a
final never waits behind a partial. Stale partials are skipped by the sessions, not queued."""

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from prometheus_client import Counter, Histogram

from services.asr.short_context import TurnContext
from services.asr.transcriber import UtteranceText

logger = logging.getLogger(__name__)

STREAM_DECODES = Counter("asr_stream_decodes_total", "Stream decodes run", ["kind"])
STREAM_SKIPPED = Counter("asr_stream_decodes_skipped_total", "Stream decodes dropped as stale", ["kind"])
STREAM_WAIT = Histogram(
    "asr_stream_queue_wait_seconds",
    "Time a stream decode waited for a worker",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)


class Priority(IntEnum):
    FINAL = 0
    EARLY_FINAL = 1
    PARTIAL = 2


DecodeFn = Callable[[np.ndarray, str | None, TurnContext | None], UtteranceText]


@dataclass(eq=False)
class DecodeJob:
    audio: np.ndarray
    language: str | None
    priority: Priority
    context: TurnContext | None = None  # what came just before (the previous turn)
    future: "asyncio.Future[UtteranceText]" = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    started: bool = False
    queued_at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def cancel(self) -> None:
        """Drop the job if it has not started; a started decode finishes and is ignored."""
        if not self.started:
            self.future.cancel()


class DecodeScheduler:
    def __init__(self, decode: DecodeFn, workers: int) -> None:
        self._decode = decode
        self._workers = workers
        self._heap: list[tuple[int, int, DecodeJob]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="asr-stream")
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        # Worker 0 is reserved for finals when there is more than one worker.
        self._tasks = [
            asyncio.create_task(self._work(finals_only=(i == 0 and self._workers > 1)), name=f"asr-stream-{i}")
            for i in range(self._workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._executor.shutdown(wait=False, cancel_futures=True)

    def submit(
        self, audio: np.ndarray, language: str | None, priority: Priority, context: TurnContext | None = None
    ) -> DecodeJob:
        job = DecodeJob(audio, language, priority, context)
        self._push(job)
        return job

    def promote(self, job: DecodeJob, priority: Priority) -> None:
        """Move a queued job up (an early final that became the final)."""
        if not job.started and not job.future.done() and priority < job.priority:
            job.priority = priority
            self._push(job)

    def _push(self, job: DecodeJob) -> None:
        heapq.heappush(self._heap, (job.priority, next(self._order), job))
        self._changed.set()

    def _pop(self, finals_only: bool) -> DecodeJob | None:
        while self._heap:
            priority, _, job = self._heap[0]
            if job.started or job.future.done() or priority != job.priority:
                heapq.heappop(self._heap)  # cancelled, or a duplicate entry left by promote()
                continue
            if finals_only and priority == Priority.PARTIAL:
                return None
            heapq.heappop(self._heap)
            return job
        return None

    async def _next(self, finals_only: bool) -> DecodeJob:
        while True:
            self._changed.clear()
            job = self._pop(finals_only)
            if job is not None:
                return job
            await self._changed.wait()

    async def _work(self, finals_only: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self._next(finals_only)
            job.started = True
            kind = job.priority.name.lower()
            STREAM_WAIT.labels(kind).observe(loop.time() - job.queued_at)
            STREAM_DECODES.labels(kind).inc()
            try:
                result = await loop.run_in_executor(self._executor, self._decode, job.audio, job.language, job.context)
            except Exception as exc:  # a failed decode must reach its stream, not kill the worker
                logger.exception("stream decode failed")
                if not job.future.done():
                    job.future.set_exception(exc)
            else:
                if not job.future.done():
                    job.future.set_result(result)
