"""A Traefik gateway of a test's own: the repository's static and dynamic configuration, on other ports,
in front of the backends the test names (e.g. VOICE_URL="http://127.0.0.1:8311,http://127.0.0.1:8312")."""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from tests.conftest import REPO, wait_until


@contextmanager
def gateway_process(work_dir: Path, main: int, bridge: int, speech: int, ping: int, **backends: str) -> Iterator[str]:
    """Run Traefik with gateway/traefik.yml's entry points moved to the given ports and gateway/dynamic.yml
    as is; yields the URL of the main entry point (the :8124 of the fleet)."""
    config = yaml.safe_load((REPO / "gateway" / "traefik.yml").read_text())
    for name, port in (("main", main), ("bridge", bridge), ("speech", speech)):
        config["entryPoints"][name]["address"] = f":{port}"
    config["entryPoints"]["ping"]["address"] = f"127.0.0.1:{ping}"
    config["providers"]["file"]["filename"] = str(REPO / "gateway" / "dynamic.yml")
    work_dir.mkdir(parents=True, exist_ok=True)
    static = work_dir / "traefik.yml"
    static.write_text(yaml.safe_dump(config))
    log = (work_dir / "traefik.log").open("ab")
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/traefik"), f"--configFile={static}"],
        cwd=REPO,
        env={**os.environ, **backends},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def pinged() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{ping}/ping", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(pinged, 30, "the test gateway", proc)
        yield f"http://127.0.0.1:{main}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()
