"""A service started as its own uvicorn process, as the Procfile starts it, for tests that restart it."""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, wait_until


@contextmanager
def service_process(app: str, port: int, data_dir: Path, timeout: float = 60, **env: str) -> Iterator[str]:
    """Run `app` (e.g. `services.voice.main:app`) with DATA_DIR=`data_dir` until its models have settled
    (loaded or failed); yields the base URL and stops it with SIGTERM."""
    with started_service(app, port, data_dir, timeout, **env):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def started_service(app: str, port: int, data_dir: Path, timeout: float = 60, **env: str) -> Iterator[subprocess.Popen]:
    """`service_process`, yielding the process itself (for a test that kills it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / f"{app.split('.')[1]}-{port}.log").open("ab")
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/uvicorn"), app, "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "DATA_DIR": str(data_dir), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def settled() -> bool:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 or "loading" not in response.text

    try:
        wait_until(settled, timeout, f"{app} readiness", proc)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()
