"""Service processes for bench/service_memory.py: start one on a free port and stop it, its process tree's
RSS (sampled) and CPU time, and a measured load phase."""

import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
PORTS = range(8360, 8380)
MIB = 1024 * 1024


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_rss(pid: int) -> int:
    """RSS of the process and of the children that run another program (espeak-ng). A child that still
    runs the parent's executable is a fork about to exec: it shares the parent's pages, and counting its
    RSS would double the peak for an instant."""
    root = psutil.Process(pid)
    total, exe = root.memory_info().rss, root.exe()
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.exe() != exe:
                total += child.memory_info().rss
    return total


def tree_cpu_s(pid: int) -> float:
    """User + system seconds of the process, its live children and the children it has reaped."""
    total = 0.0
    for i, proc in enumerate(tree(pid)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if i == 0:
            total += times.children_user + times.children_system
    return total


class RssSampler(threading.Thread):
    """Peak RSS of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, tree_rss(self.pid))
            except psutil.NoSuchProcess:
                return
            self.stop.wait(0.05)

    def __enter__(self) -> "RssSampler":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.join()
        self.peak = max(self.peak, tree_rss(self.pid))


def free_port(taken: set[int]) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise SystemExit(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class Service:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start(name: str, port: int, root: Path, env: dict[str, str], timeout: float) -> Service:
    data_dir = root / name
    data_dir.mkdir(parents=True)
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORT")}
    env = {**base, "DATA_DIR": str(data_dir), "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}", **env}
    if name == "llm":
        command = [str(REPO / ".venv/bin/python"), "deploy/local_llm.py"]
        env |= {"LOCAL_LLM_PORT": str(port), "LOCAL_LLM_HOST": "127.0.0.1"}
        probe = "/v1/models"
    else:
        app = f"services.{name}.main:app"
        command = [str(REPO / ".venv/bin/uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
        command.append("--no-server-header")
        probe = "/readyz"
    log = data_dir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    service = Service(name, port, proc, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(service.url + probe, timeout=2)
            if response.status_code == 200:
                return service
            reason = response.text
        except httpx.HTTPError as exc:
            reason = repr(exc)
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(service)
            raise SystemExit(f"{name} did not become ready on :{port} ({reason[:300]})\n{service.log_tail()}")
        time.sleep(0.5)


def stop(service: Service) -> None:
    if service.proc.poll() is None:
        os.killpg(service.proc.pid, signal.SIGTERM)
    try:
        service.proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(service.proc.pid, signal.SIGKILL)
        service.proc.wait(5)


@dataclass
class Phase:
    name: str
    requests: int
    wall_s: float
    peak_mib: float
    cpu_s_per_request: float


@dataclass
class Result:
    service: str
    idle_mib: float
    phases: list[Phase] = field(default_factory=list)
    after_mib: float = 0.0

    @property
    def peak_mib(self) -> float:
        return max([self.idle_mib, *(p.peak_mib for p in self.phases)])

    @property
    def request_mib(self) -> int:
        return math.ceil(self.idle_mib / 64) * 64

    @property
    def limit_mib(self) -> int:
        return math.ceil(self.peak_mib * 1.25 / 128) * 128

    def as_dict(self) -> dict:
        return {
            "service": self.service,
            "idle_rss_mib": round(self.idle_mib, 1),
            "peak_rss_mib": round(self.peak_mib, 1),
            "after_load_rss_mib": round(self.after_mib, 1),
            "request_mib": self.request_mib,
            "limit_mib": self.limit_mib,
            "phases": [p.__dict__ for p in self.phases],
        }


def idle_rss(pid: int) -> float:
    time.sleep(3)
    samples = []
    for _ in range(10):
        samples.append(tree_rss(pid))
        time.sleep(0.1)
    return statistics.median(samples) / MIB


def phase(pid: int, name: str, work: Callable[[], int]) -> Phase:
    """Run `work` (returns how many requests it made) while sampling the RSS; print and return the phase."""
    cpu = tree_cpu_s(pid)
    started = time.perf_counter()
    with RssSampler(pid) as sampler:
        requests = work()
    wall = time.perf_counter() - started
    result = Phase(name, requests, round(wall, 2), round(sampler.peak / MIB, 1), 0.0)
    result.cpu_s_per_request = round((tree_cpu_s(pid) - cpu) / max(requests, 1), 3)
    print(f"  {name}: {requests} requests in {wall:.1f} s, peak {result.peak_mib:.0f} MiB", flush=True)
    return result


def concurrently(calls: list[Callable[[], None]], workers: int = 4) -> int:
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()
    return len(calls)


def ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response
