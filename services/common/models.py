"""A model loaded once, in the background: requests get it, or a 503 that says why not; a model
manager also runs the model's work on its budget."""

import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from services.common.errors import ModelUnavailable
from services.common.workers import Budget, Job, JobKind

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class NotConfigured(RuntimeError):
    """An optional model whose setting is empty: reported as the reason, never replaced by a fake."""


class LoadedModel(Generic[T]):
    def __init__(self, label: str, spec: str) -> None:
        self.label = label  # what the model is for, as errors name it ("ASR model")
        self.spec = spec  # what was configured (an id, a path)
        self.value: T | None = None
        self.error: str | None = None
        self.load_seconds: float | None = None

    def load(self, loader: Callable[[], T]) -> None:
        start = time.perf_counter()
        try:
            self.value = loader()
        except Exception as exc:  # missing files, hub errors, drivers, imports: all reported, none faked
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("%s unavailable: %s", self.label, self.error)
            return
        self.load_seconds = round(time.perf_counter() - start, 2)
        logger.info("%s %s loaded in %.1f s", self.label, self.spec, self.load_seconds)

    @property
    def settled(self) -> bool:
        """Loaded, or failed for good."""
        return self.value is not None or self.error is not None

    def get(self) -> T:
        if self.value is not None:
            return self.value
        if self.error:
            # Retrying cannot help until the configuration is fixed and the service restarted.
            raise ModelUnavailable(f"{self.label} unavailable: {self.error}", retryable=False)
        raise ModelUnavailable(f"{self.label} is still loading; retry shortly", headers={"Retry-After": "5"})

    def status(self) -> dict[str, object]:
        details: dict[str, object] = {"model": self.spec}
        if self.error:
            details["error"] = self.error
        elif self.value is None:
            details["state"] = "loading"
        else:
            details["load_seconds"] = self.load_seconds
        return details


class ModelManager(LoadedModel[T]):
    """A model and the budget its work runs on: `run` hands the loaded model to `work` on one of the
    budget's threads, or answers 503 (still loading, failed to load, busy) without queueing."""

    def __init__(self, label: str, spec: str, budget: Budget) -> None:
        super().__init__(label, spec)
        self.budget = budget

    def submit(self, kind: JobKind, work: Callable[..., R], *args: object, order: int | None = None) -> Job[R]:
        return self.budget.submit(kind, work, self.get(), *args, order=order)

    async def run(self, kind: JobKind, work: Callable[..., R], *args: object, order: int | None = None) -> R:
        return await self.submit(kind, work, *args, order=order).future
