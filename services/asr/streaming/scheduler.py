"""Stream decodes on the model's budget, in its stream lane: finals first, then early (speculative)
finals, then partials; within a priority, first come first served. A partial never takes the
lane's last free thread while no final runs, so a final never waits behind a partial. Stale
partials are skipped by the sessions, not queued."""

import asyncio
import logging
import time
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

import numpy as np
from prometheus_client import Counter, Histogram

from services.asr.short_context import TurnContext
from services.asr.transcriber import UtteranceText
from services.common.workers import Budget, Job, JobKind

logger = logging.getLogger(__name__)
T = TypeVar("T")

STREAM_LANE = "streams"
VAD_LANE = "stream_vad"  # Silero on each chunk (~1 ms): never queued behind a decode
VAD_WORK = JobKind("vad", VAD_LANE)
TURN_WORK = JobKind("turn", VAD_LANE)  # the turn-completion model at a stream's short pause (~tens of ms)
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


KINDS = {
    priority: JobKind(priority.name.lower(), STREAM_LANE, priority, leaves_a_thread=priority == Priority.PARTIAL)
    for priority in Priority
}

DecodeFn = Callable[[np.ndarray, str | None, TurnContext | None], UtteranceText]


class DecodeJob:
    """One stream decode: `future` gets the text. Until it starts it can be promoted or cancelled."""

    def __init__(self, priority: Priority) -> None:
        self.priority = priority
        self.queued_at = time.monotonic()
        self.job: Job[UtteranceText] | None = None  # set once queued on the budget

    @property
    def future(self) -> "asyncio.Future[UtteranceText]":
        return self.job.future

    @property
    def started(self) -> bool:
        return self.job.started

    def cancel(self) -> None:
        """Drop the job if it has not started; a started decode finishes and is ignored."""
        if not self.started:
            self.future.cancel()


class DecodeScheduler:
    def __init__(self, decode: DecodeFn, budget: Budget) -> None:
        self._decode = decode
        self._budget = budget

    def start(self) -> None:
        self._budget.open_lane(STREAM_LANE)
        self._budget.open_lane(VAD_LANE)

    async def stop(self) -> None:
        """Drop the queued decodes and refuse new ones: the streams are closing."""
        self._budget.close_lane(STREAM_LANE)
        self._budget.close_lane(VAD_LANE)

    async def vad(self, process: Callable[[np.ndarray], T], samples: np.ndarray) -> T:
        """A stream's VAD on a chunk, on the budget's VAD lane."""
        return await self._budget.run(VAD_WORK, process, samples)

    def submit(
        self, audio: np.ndarray, language: str | None, priority: Priority, context: TurnContext | None = None
    ) -> DecodeJob:
        job = DecodeJob(priority)
        job.job = self._budget.submit(KINDS[priority], self._timed_decode, job, audio, language, context)
        return job

    def promote(self, job: DecodeJob, priority: Priority) -> None:
        """Move a queued job up (an early final that became the final)."""
        if not job.started and not job.future.done() and priority < job.priority:
            job.priority = priority
            self._budget.promote(job.job, KINDS[priority])

    def _timed_decode(
        self, job: DecodeJob, audio: np.ndarray, language: str | None, context: TurnContext | None
    ) -> UtteranceText:
        """On a budget thread: the decode, with its wait and kind counted."""
        kind = job.priority.name.lower()
        STREAM_WAIT.labels(kind).observe(time.monotonic() - job.queued_at)
        STREAM_DECODES.labels(kind).inc()
        try:
            return self._decode(audio, language, context)
        except Exception:  # reaches its stream through the future; logged here with the traceback
            logger.exception("stream decode failed")
            raise
