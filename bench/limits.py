"""What per-client limits cost a request: the same cheap endpoint (webrtc's GET /ice-servers) with limits
off, counted in the process, and counted in Redis (as when scaled out), sequential and concurrent.

    .venv/bin/python -u bench/limits.py [--requests 2000] [--concurrency 16]

Each variant is a webrtc process of its own (ports 8331-8333); requests carry an X-Forwarded-For as the
gateway sets it, from 64 distinct clients, with a limit high enough never to refuse one. Redis is the local
server (db 10, flushed). Prints p50/p95 latency, throughput, and each variant's ratio to "off".
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.processes import service_process  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/10"
CLIENTS = 64
HIGH_LIMIT = 10**9
VARIANTS = {
    "off": (8331, {}),
    "in process": (8332, {"RATE_LIMIT_PER_MINUTE": str(HIGH_LIMIT)}),
    "redis": (8333, {"RATE_LIMIT_PER_MINUTE": str(HIGH_LIMIT), "REDIS_URL": REDIS_URL}),
}


async def measure(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    """Per-request latencies (s) and the wall time of `requests` GETs, `concurrency` at a time."""
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in queue:
            headers = {"X-Forwarded-For": f"203.0.113.{i % CLIENTS}"}
            start = time.perf_counter()
            response = await client.get("/ice-servers", headers=headers)
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(50):  # warm the connections and the code paths
            (await client.get("/ice-servers", headers={"X-Forwarded-For": f"198.51.100.{i}"})).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return latencies, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (port, env) in VARIANTS.items():
            with service_process("services.webrtc.main:app", port, Path(tmp) / name, LOG_LEVEL="WARNING", **env) as url:
                for concurrency in (1, args.concurrency):
                    latencies, wall = asyncio.run(measure(url, args.requests, concurrency))
                    rows.append((name, concurrency, latencies, wall))
    redis.Redis.from_url(REDIS_URL).flushdb()
    base = {c: (np.percentile(lat, 50), args.requests / wall) for name, c, lat, wall in rows if name == "off"}
    print(f"{args.requests} GET /ice-servers per row, {CLIENTS} clients")
    print(f"{'limits':<12}{'concurrent':>11}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}{'p50 ratio':>11}{'req/s ratio':>13}")
    for name, concurrency, latencies, wall in rows:
        p50, p95, rate = np.percentile(latencies, 50), np.percentile(latencies, 95), args.requests / wall
        base_p50, base_rate = base[concurrency]
        print(
            f"{name:<12}{concurrency:>11}{p50 * 1000:>9.2f}{p95 * 1000:>9.2f}{rate:>9.0f}"
            f"{p50 / base_p50:>11.2f}{rate / base_rate:>13.2f}"
        )


if __name__ == "__main__":
    main()
