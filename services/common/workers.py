"""Bounded inference threads: work never runs on the event loop, and a full queue answers "busy"
(503 + Retry-After, or an `error` event on a stream) instead of letting requests pile up.

`Budget` is one model's (or one service's) threads, shared by every kind of work on it: lanes cap
how many jobs of a kind run at once, jobs wait in priority order, and gates admit requests and
streams before any of their input is read."""

import asyncio
import contextvars
import functools
import heapq
import itertools
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge

from services.common.errors import ServiceBusy

T = TypeVar("T")

POOL_PENDING = Gauge("inference_pending", "Jobs running or queued", ["pool"])
POOL_REJECTED = Counter("inference_rejected_total", "Jobs refused because the queue was full", ["pool"])


@dataclass(frozen=True)
class JobKind:
    """What a job is to its budget: the lane whose threads it runs on, its priority there (lower
    first) and whether it must leave the lane a free thread while nothing else runs there (a stream
    preview leaves one for finals). A kind that leaves a thread is the lowest priority of its lane."""

    name: str
    lane: str
    priority: int = 0
    leaves_a_thread: bool = False


@dataclass(eq=False)
class Job(Generic[T]):
    kind: JobKind
    order: int  # within a priority, lower first: the request's admission, or the submission
    call: Callable[[], T]
    future: "asyncio.Future[T]"
    started: bool = False


@dataclass(eq=False)
class Place:
    """A request's (or a stream's) place in a gate, held until it ends; its jobs run in its `order`."""

    gate: "Gate"
    order: int
    released: bool = field(default=False, init=False)

    def __enter__(self) -> "Place":
        return self

    def __exit__(self, *_: object) -> None:
        if not self.released:
            self.released = True
            self.gate.held -= 1


class Gate:
    """Admission to a budget, on the event loop: at most `capacity` places are held at once; one more
    is refused with ServiceBusy."""

    def __init__(self, budget: "Budget", capacity: int, refusal: str) -> None:
        self.budget = budget
        self.capacity = capacity
        self.refusal = refusal
        self.held = 0

    def check(self) -> None:
        """Refuse now if no place is free: before a request's body is read, without holding a place
        while a client uploads."""
        if self.held >= self.capacity:
            POOL_REJECTED.labels(self.budget.name).inc()
            raise ServiceBusy(self.refusal, retry_after_s=self.budget.retry_after_s)

    def acquire(self) -> Place:
        self.check()
        self.held += 1
        return Place(self, self.budget.next_order())


class Budget:
    """The threads of one model, every lane's jobs on one executor. Jobs are queued and started on
    the event loop; a job still waiting when its future is cancelled never runs, and a running one
    holds its thread until it really ends."""

    def __init__(self, name: str, lanes: dict[str, int], retry_after_s: int = 2) -> None:
        self.name = name
        self.lanes = dict(lanes)
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(sum(self.lanes.values()), thread_name_prefix=f"{name}-worker")
        self._waiting: dict[str, list[tuple[int, int, int, Job]]] = {lane: [] for lane in self.lanes}
        self._running: dict[str, Tally[bool]] = {lane: Tally() for lane in self.lanes}  # by leaves_a_thread
        self._orders = itertools.count()
        self._entries = itertools.count()
        self._closed = False
        self._closed_lanes: set[str] = set()

    def gate(self, capacity: int, refusal: str) -> Gate:
        return Gate(self, capacity, refusal)

    def next_order(self) -> int:
        return next(self._orders)

    def submit(self, kind: JobKind, fn: Callable[..., T], *args: object, order: int | None = None) -> Job[T]:
        """Queue `fn(*args)`; its future gets the result. Never raises: after `shutdown` the future
        holds ServiceBusy. Runs in a copy of the caller's context (logs keep the request id)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        job = Job(kind, self.next_order() if order is None else order, call, future)
        if self._closed or kind.lane in self._closed_lanes:
            future.set_exception(ServiceBusy(f"{self.name} is shutting down", retry_after_s=self.retry_after_s))
            return job
        self._push(job)
        self._dispatch()
        return job

    async def run(self, kind: JobKind, fn: Callable[..., T], *args: object, order: int | None = None) -> T:
        return await self.submit(kind, fn, *args, order=order).future

    def idle(self, *lanes: str) -> bool:
        """Nothing runs or waits on these lanes."""
        return not any(
            self._running[lane].total()
            or any(
                priority == job.kind.priority and not job.future.done() for priority, _, _, job in self._waiting[lane]
            )
            for lane in lanes
        )

    def promote(self, job: Job, kind: JobKind) -> None:
        """Move a waiting job up (a stream's early final that became its final)."""
        if not job.started and not job.future.done() and kind.priority < job.kind.priority:
            job.kind = kind
            self._push(job)
            self._dispatch()

    def open_lane(self, lane: str) -> None:
        self._closed_lanes.discard(lane)

    def close_lane(self, lane: str) -> None:
        """Drop the lane's waiting jobs and refuse new ones (its running jobs finish)."""
        self._closed_lanes.add(lane)
        for *_, job in self._waiting[lane]:
            job.future.cancel()
        self._waiting[lane].clear()

    def shutdown(self) -> None:
        for lane in self.lanes:
            self.close_lane(lane)
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _push(self, job: Job) -> None:
        heapq.heappush(self._waiting[job.kind.lane], (job.kind.priority, job.order, next(self._entries), job))

    def _dispatch(self) -> None:
        for heap in self._waiting.values():
            while heap:
                priority, _, _, job = heap[0]
                if job.started or job.future.done() or priority != job.kind.priority:
                    heapq.heappop(heap)  # cancelled, or the old entry of a promoted job
                    continue
                if not self._may_start(job.kind):
                    break
                heapq.heappop(heap)
                self._start(job)
        POOL_PENDING.labels(self.name).set(self._pending())

    def _may_start(self, kind: JobKind) -> bool:
        running, threads = self._running[kind.lane], self.lanes[kind.lane]
        free = threads - running.total()
        if not kind.leaves_a_thread or threads == 1:
            return free > 0
        return free > 1 or (free == 1 and running[False] > 0)

    def _start(self, job: Job) -> None:
        job.started = True
        self._running[job.kind.lane][job.kind.leaves_a_thread] += 1
        ended = asyncio.wrap_future(self._executor.submit(job.call))
        ended.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: Job, ended: "asyncio.Future") -> None:
        self._running[job.kind.lane][job.kind.leaves_a_thread] -= 1
        if ended.cancelled():
            job.future.cancel()
        elif (error := ended.exception()) is not None:
            if not job.future.done():
                job.future.set_exception(error)
        elif not job.future.done():
            job.future.set_result(ended.result())
        # The next job starts after the job's waiters have run: a request whose job failed drops its
        # other waiting jobs before one of them could take the thread.
        asyncio.get_running_loop().call_soon(self._dispatch)

    def _pending(self) -> int:
        running = sum(tally.total() for tally in self._running.values())
        waiting = sum(
            1
            for heap in self._waiting.values()
            for priority, _, _, job in heap
            if priority == job.kind.priority and not job.future.done()
        )
        return running + waiting


async def results(*jobs: Job) -> list:
    """Each job's result, in order. When one fails or the caller is cancelled, the others are
    dropped (`drop`)."""
    try:
        return [await job.future for job in jobs]
    finally:
        drop(jobs)


def drop(jobs: Iterable[Job]) -> None:
    """Jobs whose results are no longer wanted: a waiting one leaves the queue, a running one finishes
    unheard; one that already failed has its error retrieved, so it is not logged as unhandled."""
    for job in jobs:
        if not job.future.cancel() and not job.future.cancelled():
            job.future.exception()
