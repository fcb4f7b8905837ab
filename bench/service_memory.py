"""Memory of each service, for Kubernetes requests and limits: RSS idle after ready and peak under load.

Usage: .venv/bin/python bench/service_memory.py [--rounds 3] [--services asr,tts] [--json [PATH]]

Each service runs as its own process, as the Procfile starts it (uvicorn, or deploy/local_llm.py), on a
free port in 8360–8379 with its own temporary DATA_DIR (SQLite; DATABASE_URL and REDIS_URL are dropped).
After `/readyz` answers 200 (`/v1/models` for the LLM) and 3 s of settling, the idle RSS is read; then a
representative load runs while a thread samples the RSS every 50 ms. RSS is the process plus its children
that run another program (espeak-ng for the tts service; a fork before its exec shares the parent's
pages). CPU time per request is the process tree's user + system time over a load phase divided by its
requests (noisy on a shared machine; memory is not). Loads, with real speech from ../shared/data:

- asr: 4 concurrent POST /transcribe (the four English clips of bench/asr_file.py) for --rounds rounds; one
  --long-minutes file (the English clips with transcripts, 1 s apart; decoded in pieces on the workers); one
  --diarization-minutes file (the two diarization clips, repeated) on POST /transcribe-with-property.
- voice: register, then 4 concurrent verify, anti-spoof (the ten spoof/ clips in one request, AASIST ONNX
  from `make antispoof-model`, run here when models/aasist.onnx is missing) and /voice/profile per round.
- tts: POST /v1/audio/speech with a four-sentence paragraph in all seven languages, 4 concurrent, per round
  (Piper en, Kokoro ja, espeak-ng for the rest; speakers from the catalog service).
- catalog: GET /api/speakers (all and per language), GET /api/collections, a collection created and read.
- llm: the local llama.cpp server with SmolLM2 (deploy/local_llm.py): chat completions, 2 concurrent.
- voicechat: one session over WS /ws/voice-chat (a typed turn, then a spoken one) with the asr and tts
  services above and a scripted LLM in this process (tests/scripted_llm.py).
- webrtc: one aiortc call (tests/webrtc_peer.py) through the voicechat service: a typed and a spoken turn.

Suggested request: idle RSS rounded up to 64 MiB; limit: peak × 1.25 rounded up to 128 MiB.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.service_loads import LOADS
from bench.service_process import Result, Service, free_port, idle_rss, start, stop
from tests.scripted_llm import scripted_llm_server

warnings.filterwarnings("ignore")
ANTISPOOF_ONNX = REPO / "models" / "aasist.onnx"
# What each service needs running beside it (started, but measured only when asked for).
NEEDS = {
    "asr": [],
    "voice": [],
    "catalog": [],
    "tts": ["catalog"],
    "llm": [],
    "voicechat": ["asr", "tts"],
    "webrtc": ["voicechat", "catalog"],
}
ORDER = ["catalog", "asr", "voice", "tts", "llm", "voicechat", "webrtc"]


def needed(selected: list[str]) -> list[str]:
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for dependency in NEEDS[name]:
                add(dependency)

    for name in selected:
        add(name)
    return [name for name in ORDER if name in wanted]


def env_for(name: str, services: dict[str, Service], llm_url: str) -> dict[str, str]:
    def ws(service: str, path: str) -> str:
        return f"ws://127.0.0.1:{services[service].port}{path}" if service in services else ""

    catalog = services["catalog"].url if "catalog" in services else ""
    return {
        "asr": {},
        "voice": {"ANTISPOOF_MODEL": str(ANTISPOOF_ONNX)},
        "catalog": {},
        "tts": {"CATALOG_URL": catalog},
        "llm": {},
        "voicechat": {
            "ASR_WS_URL": ws("asr", "/ws/transcribe/vad"),
            "TTS_WS_URL": ws("tts", "/ws/tts"),
            "LLM_BASE_URL": llm_url,
            "FOLLOW_UP_AFTER_S": "600",
        },
        "webrtc": {
            "VOICECHAT_WS_URL": ws("voicechat", "/ws/voice-chat"),
            "CATALOG_URL": catalog,
        },
    }[name]


def print_tables(results: list[Result]) -> None:
    print("\n| service | idle RSS MiB | peak RSS MiB | after load MiB | request | limit |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.service} | {r.idle_mib:.0f} | {r.peak_mib:.0f} | {r.after_mib:.0f} "
            f"| {r.request_mib}Mi | {r.limit_mib}Mi |"
        )
    print("\n| service | load | requests | wall s | peak RSS MiB | CPU s / request |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for p in r.phases:
            cells = f"{p.requests} | {p.wall_s:.1f} | {p.peak_mib:.0f} | {p.cpu_s_per_request:.3f}"
            print(f"| {r.service} | {p.name} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", default="asr,voice,tts,catalog,llm,voicechat,webrtc")
    parser.add_argument("--long-minutes", type=float, default=5.0)
    parser.add_argument("--diarization-minutes", type=float, default=2.0)
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds a service may take to be ready")
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH", help="write the results as JSON ('-': stdout)")
    args = parser.parse_args()
    selected = [name.strip() for name in args.services.split(",") if name.strip()]
    unknown = set(selected) - set(LOADS)
    if unknown:
        raise SystemExit(f"unknown services {sorted(unknown)}; use {', '.join(LOADS)}")
    if "voice" in needed(selected) and not ANTISPOOF_ONNX.exists():
        subprocess.run(["make", "--no-print-directory", "antispoof-model"], cwd=REPO, check=True)

    ports: set[int] = set()
    llm_port = free_port(ports)
    services: dict[str, Service] = {}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="service-memory-") as root, scripted_llm_server(port=llm_port):
        try:
            for name in needed(selected):
                port = free_port(ports)
                print(f"{name}: starting on :{port}", flush=True)
                env = env_for(name, services, f"http://127.0.0.1:{llm_port}/v1")
                services[name] = service = start(name, port, Path(root), env, args.start_timeout)
                if name not in selected:
                    continue
                result = Result(name, idle_rss(service.proc.pid))
                print(f"  idle {result.idle_mib:.0f} MiB", flush=True)
                result.phases = LOADS[name](service, args)
                result.after_mib = idle_rss(service.proc.pid)
                print(f"  after load {result.after_mib:.0f} MiB", flush=True)
                results.append(result)
        finally:
            for service in reversed(list(services.values())):
                stop(service)
    results.sort(key=lambda r: selected.index(r.service))
    print_tables(results)
    if args.json:
        text = json.dumps([r.as_dict() for r in results], indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
