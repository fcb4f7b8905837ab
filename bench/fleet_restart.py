"""The fleet under supervisord: how long `make run` takes to be ready once installed, and how long each
process takes to serve again after SIGKILL, while the others keep answering.

Usage: .venv/bin/python bench/fleet_restart.py [--rounds 3]

Starts the fleet like `make run` (deploy/supervise.py; the install and the AASIST export already done),
times start → every /readyz 200, then per round SIGKILLs each process in turn and times kill → its own
health URL answering 200 again (for a service: /readyz, so its models are loaded again). During each
outage every other process's health URL is polled; any failure is counted.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import pid_listening_on, running_fleet

HEALTH = {
    "asr": (8201, "http://127.0.0.1:8201/readyz"),
    "tts": (8202, "http://127.0.0.1:8202/readyz"),
    "voice": (8203, "http://127.0.0.1:8203/readyz"),
    "voicechat": (8204, "http://127.0.0.1:8204/readyz"),
    "webrtc": (8205, "http://127.0.0.1:8205/readyz"),
    "catalog": (8206, "http://127.0.0.1:8206/readyz"),
    "llm": (8210, "http://127.0.0.1:8210/v1/models"),
    "gateway": (8124, "http://127.0.0.1:8180/ping"),
}


def healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def restart_time(client: httpx.Client, name: str) -> tuple[float, int]:
    """Seconds from SIGKILL to healthy again, and how many polls of the other processes failed meanwhile."""
    port, url = HEALTH[name]
    process = psutil.Process(pid_listening_on(port))
    killed = time.monotonic()
    process.kill()
    process.wait(10)
    others_failed = 0
    while not healthy(client, url):
        if time.monotonic() - killed > 120:
            raise SystemExit(f"{name} did not come back within 120 s")
        others_failed += sum(not healthy(client, u) for n, (_, u) in HEALTH.items() if n != name)
        time.sleep(0.1)
    return time.monotonic() - killed, others_failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    with running_fleet(None), httpx.Client(timeout=2) as client:
        while not all(healthy(client, url) for _, url in HEALTH.values()):
            time.sleep(0.25)
        print(f"installed `make run` → every process ready: {time.monotonic() - started:.1f} s")
        times: dict[str, list[float]] = {name: [] for name in HEALTH}
        failures = 0
        for _ in range(args.rounds):
            for name in HEALTH:
                seconds, failed = restart_time(client, name)
                times[name].append(seconds)
                failures += failed
        print(f"\nSIGKILL → serving again (s), {args.rounds} rounds: median (max)")
        for name, values in times.items():
            print(f"  {name:<10} {statistics.median(values):5.1f} ({max(values):.1f})")
        print(f"\nfailed health polls of the other processes during the outages: {failures}")


if __name__ == "__main__":
    main()
