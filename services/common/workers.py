"""A bounded pool of inference threads: work never runs on the event loop, and a full queue
answers "busy" (503 + Retry-After) instead of letting requests pile up."""

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from prometheus_client import Counter, Gauge

from services.common.errors import ServiceBusy

T = TypeVar("T")

POOL_PENDING = Gauge("inference_pending", "Jobs running or queued", ["pool"])
POOL_REJECTED = Counter("inference_rejected_total", "Jobs refused because the queue was full", ["pool"])


class InferencePool:
    """`workers` threads plus at most `queue_size` waiting jobs; beyond that, `ServiceBusy`."""

    def __init__(self, name: str, workers: int, queue_size: int, retry_after_s: int = 2) -> None:
        self.name = name
        self.workers = workers
        self.capacity = workers + queue_size
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-worker")
        self._pending = 0
        self._lock = threading.Lock()

    def _release(self, _: Future) -> None:
        with self._lock:
            self._pending -= 1
            POOL_PENDING.labels(self.name).set(self._pending)

    def submit(self, fn: Callable[..., T], *args: object) -> "asyncio.Future[T]":
        """Queue `fn(*args)` on a worker thread; the slot is freed when the job really ends."""
        with self._lock:
            if self._pending >= self.capacity:
                POOL_REJECTED.labels(self.name).inc()
                raise ServiceBusy(
                    f"{self.name} is at capacity ({self.capacity} jobs); retry shortly",
                    retry_after_s=self.retry_after_s,
                )
            self._pending += 1
            POOL_PENDING.labels(self.name).set(self._pending)
        # Run in a copy of the caller's context so logs on the worker keep the request id.
        future = self._executor.submit(contextvars.copy_context().run, fn, *args)
        future.add_done_callback(self._release)
        return asyncio.wrap_future(future)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await self.submit(fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
