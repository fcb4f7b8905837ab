"""Start the fleet from the Procfile for a benchmark, wait for a port someone else holds, and find a service's
process."""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
SERVICE_PORTS = (8201, 8202, 8203, 8204, 8205, 8206)  # asr, tts, voice, voicechat, webrtc, catalog


@contextmanager
def running_fleet(url: str | None):
    """Yield the gateway URL: `url` as given, or a fleet started like `make run` and stopped after."""
    if url:
        yield url
        return
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/python"), "deploy/supervise.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(f"http://127.0.0.1:{port}/readyz") for port in SERVICE_PORTS):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("fleet did not become ready")
            time.sleep(0.5)
        yield "http://127.0.0.1:8124"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def pid_listening_on(port: int) -> int:
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return conn.pid
    raise SystemExit(f"no process listens on :{port}")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, what: str) -> None:
    """Another fleet (someone else's benchmark) holds the port: wait for it to go, never stop it."""
    while listening(port):
        print(f"something already listens on :{port} ({what}); retrying in 60 s", flush=True)
        time.sleep(60)
