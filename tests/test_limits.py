"""Per-client limits in the app skeleton every service uses: counted in one process without Redis, shared
through real Redis by two apps (two replicas), left open when Redis is down, and never applied to direct
(service-to-service) calls or health checks. Then a model's budget: lanes, priorities, gates."""

import asyncio
import threading
import time

import httpx
import pytest
import redis
from fastapi import APIRouter

from services.common.app import create_app
from services.common.errors import ServiceBusy
from services.common.limits import RATE_WINDOW_S, ClientLimits
from services.common.settings import ServiceSettings
from services.common.workers import Budget, JobKind, results

REDIS_URL = "redis://127.0.0.1:6379/9"
DEAD_REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens there

router = APIRouter()


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


def app_client(**settings: object) -> httpx.AsyncClient:
    app = create_app(
        service="limits-test",
        scope="asr",
        settings=ServiceSettings(**settings),
        routers=[router],
        readiness=lambda: (True, {}),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica")


@pytest.fixture
def shared_redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


async def statuses(client: httpx.AsyncClient, count: int, path: str = "/hello", **headers: str) -> list[int]:
    return [(await client.get(path, headers=headers)).status_code for _ in range(count)]


async def test_one_process_counts_on_its_own_without_redis() -> None:
    async with app_client(rate_limit_per_minute=3) as client:
        client_a = {"X-Forwarded-For": "203.0.113.1"}
        assert await statuses(client, 5, **client_a) == [200, 200, 200, 429, 429]
        assert await statuses(client, 1, **{"X-Forwarded-For": "203.0.113.2"}) == [200]
        assert await statuses(client, 5) == [200] * 5  # a direct call: no limit
        assert await statuses(client, 5, "/healthz", **client_a) == [200] * 5


async def test_two_replicas_share_one_budget_through_redis(shared_redis: redis.Redis) -> None:
    headers = {"X-Forwarded-For": "10.0.0.1, 203.0.113.5"}  # the last entry is the gateway's
    async with (
        app_client(rate_limit_per_minute=4, redis_url=REDIS_URL) as first,
        app_client(rate_limit_per_minute=4, redis_url=REDIS_URL) as second,
    ):
        seen = [(await (first, second)[i % 2].get("/hello", headers=headers)).status_code for i in range(6)]
        assert seen == [200, 200, 200, 200, 429, 429]
        refused = await second.get("/hello", headers=headers)
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= RATE_WINDOW_S
    assert any(b":rate:203.0.113.5:" in key for key in shared_redis.keys("voicefleet:limits:limits-test:*"))


async def test_the_previous_minute_still_weighs_on_the_budget(shared_redis: redis.Redis) -> None:
    """Sliding window: requests of the last window count in proportion to how much of it is recent."""
    limits = ClientLimits("weights", rate_per_minute=10, max_sessions=0, redis_url=REDIS_URL)
    window, into = divmod(time.time(), RATE_WINDOW_S)
    if into > RATE_WINDOW_S - 5:  # too close to the next window for a stable count: start in the next one
        await asyncio.sleep(RATE_WINDOW_S - into + 0.1)
        window, into = divmod(time.time(), RATE_WINDOW_S)
    shared_redis.set(f"voicefleet:limits:weights:rate:203.0.113.9:{int(window) - 1}", 20)
    allowed = 0
    while await limits.retry_after("203.0.113.9") is None:
        allowed += 1
    expected = int(10 - 20 * (1 - into / RATE_WINDOW_S))
    assert max(0, expected - 1) <= allowed <= max(0, expected + 1)
    await limits.counters.close()


async def test_sessions_are_leased_across_replicas(shared_redis: redis.Redis) -> None:
    first = ClientLimits("sessions", rate_per_minute=0, max_sessions=2, redis_url=REDIS_URL)
    second = ClientLimits("sessions", rate_per_minute=0, max_sessions=2, redis_url=REDIS_URL)
    key = first.session_key("203.0.113.3")
    assert await first.counters.acquire_session(key, "a", 2)
    assert await second.counters.acquire_session(key, "b", 2)
    assert not await second.counters.acquire_session(key, "c", 2)
    await first.counters.release_session(key, "a")
    assert await second.counters.acquire_session(key, "c", 2)
    # A replica that died never releases: its lease runs out instead.
    shared_redis.zadd(key, {"b": time.time() - 1})
    assert await first.counters.acquire_session(key, "d", 2)
    await first.counters.close()
    await second.counters.close()


async def test_limits_stay_open_when_redis_is_down() -> None:
    async with app_client(rate_limit_per_minute=1, redis_url=DEAD_REDIS_URL) as client:
        assert await statuses(client, 3, **{"X-Forwarded-For": "203.0.113.4"}) == [200, 200, 200]


# --- a model's budget (services/common/workers.py) -------------------------------------------------

FILE = JobKind("file", "files")
FINAL = JobKind("final", "streams", 0)
PARTIAL = JobKind("partial", "streams", 2, leaves_a_thread=True)


class Blocker:
    """Work that runs until released, noting the order in which jobs started."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []

    def work(self, name: str) -> str:
        self.started.append(name)
        assert self.release.wait(30), "never released"
        return name


async def settle() -> None:
    """Let the event loop hand finished jobs back (their completion comes through the loop)."""
    for _ in range(20):
        await asyncio.sleep(0.01)


@pytest.fixture
def blocker():
    blocker = Blocker()
    yield blocker
    blocker.release.set()


async def test_a_lane_runs_at_most_its_threads_and_the_rest_wait_in_priority_order(blocker: Blocker) -> None:
    budget = Budget("test", {"files": 1, "streams": 2})
    first = budget.submit(FILE, blocker.work, "file 1")
    later = [budget.submit(FILE, blocker.work, f"file {n}") for n in (2, 3)]
    streams = [budget.submit(FINAL, blocker.work, "final")]  # its own lane: not held by the file
    await settle()
    assert first.started and not any(job.started for job in later) and streams[0].started
    blocker.release.set()
    assert await results(first, *later, *streams) == ["file 1", "file 2", "file 3", "final"]
    assert blocker.started.index("file 2") < blocker.started.index("file 3")
    budget.shutdown()


async def test_an_earlier_admission_runs_before_a_later_submission(blocker: Blocker) -> None:
    budget = Budget("test", {"files": 1})
    gate = budget.gate(4, "full")
    with gate.acquire() as early, gate.acquire() as late:
        running = budget.submit(FILE, blocker.work, "running")
        await settle()
        newer = budget.submit(FILE, blocker.work, "late request", order=late.order)
        older = budget.submit(FILE, blocker.work, "early request's next step", order=early.order)
        blocker.release.set()
        await results(running, newer, older)
    assert blocker.started == ["running", "early request's next step", "late request"]
    budget.shutdown()


async def test_a_partial_leaves_the_last_thread_to_finals(blocker: Blocker) -> None:
    budget = Budget("test", {"streams": 2})
    partials = [budget.submit(PARTIAL, blocker.work, f"partial {n}") for n in (1, 2)]
    await settle()
    assert [job.started for job in partials] == [True, False]  # the second would take the last thread
    final = budget.submit(FINAL, blocker.work, "final")
    await settle()
    assert final.started and not partials[1].started  # both threads busy now
    blocker.release.set()
    await results(*partials, final)
    assert blocker.started == ["partial 1", "final", "partial 2"]
    budget.shutdown()


async def test_a_cancelled_waiting_job_never_runs_and_a_promoted_one_goes_first(blocker: Blocker) -> None:
    budget = Budget("test", {"streams": 1})
    running = budget.submit(FINAL, blocker.work, "running")
    dropped = budget.submit(FINAL, blocker.work, "dropped")
    partial = budget.submit(PARTIAL, blocker.work, "partial")
    promoted = budget.submit(PARTIAL, blocker.work, "promoted")
    budget.promote(promoted, FINAL)
    dropped.future.cancel()
    blocker.release.set()
    assert await results(running, partial, promoted) == ["running", "partial", "promoted"]
    assert blocker.started == ["running", "promoted", "partial"]
    budget.shutdown()


async def test_when_one_job_fails_the_others_are_dropped(blocker: Blocker) -> None:
    budget = Budget("test", {"files": 1})

    def fail() -> None:
        raise ValueError("broken file")

    failing = budget.submit(FILE, fail)
    waiting = budget.submit(FILE, blocker.work, "never")
    with pytest.raises(ValueError, match="broken file"):
        await results(failing, waiting)
    await settle()
    assert waiting.future.cancelled() and blocker.started == []
    budget.shutdown()


async def test_a_gate_refuses_past_its_capacity_and_frees_a_place_when_a_request_ends() -> None:
    budget = Budget("test", {"files": 1})
    gate = budget.gate(1, "test is at capacity (1 requests); retry shortly")
    with gate.acquire():
        with pytest.raises(ServiceBusy) as refused:
            gate.check()
        assert refused.value.headers["Retry-After"] == "2" and "capacity" in refused.value.message
        with pytest.raises(ServiceBusy):
            gate.acquire()
    gate.check()
    with gate.acquire():
        assert gate.held == 1
    assert gate.held == 0
    budget.shutdown()


async def test_after_shutdown_work_is_refused_as_busy() -> None:
    budget = Budget("test", {"files": 1})
    budget.shutdown()
    with pytest.raises(ServiceBusy, match="shutting down"):
        await budget.run(FILE, lambda: None)


async def test_a_lane_is_idle_only_when_nothing_runs_or_waits_there(blocker: Blocker) -> None:
    budget = Budget("test", {"files": 1, "streams": 1})
    assert budget.idle("files", "streams")
    running = budget.submit(FILE, blocker.work, "file 1")
    waiting = budget.submit(FILE, blocker.work, "file 2")
    await settle()
    assert not budget.idle("files") and budget.idle("streams")
    blocker.release.set()
    await results(running, waiting)
    await settle()
    assert budget.idle("files", "streams")
    budget.shutdown()
