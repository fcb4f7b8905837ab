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
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.voicechat_latency import pcm, turn
from tests.audio_files import encode, read_mono
from tests.scripted_llm import scripted_llm_server
from tests.webrtc_peer import CallerPeer

warnings.filterwarnings("ignore")
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
PORTS = range(8360, 8380)
MIB = 1024 * 1024
ANTISPOOF_ONNX = REPO / "models" / "aasist.onnx"
SHORT = [
    "asr/en_one_two_three.wav",
    "asr/en_LJ050-0131.wav",
    "asr/en_librispeech_1995-1837-0001.wav",
    "asr/en_jfk.flac",
]
DIARIZATION = ["diarization/sample.wav", "diarization/ami_dev00.wav"]
SPEAKER = "speaker/libri_testother_1998_1998-15444-{}.flac"
PARAGRAPHS = {
    "en": "Thanks for calling. Your order shipped this morning. It should arrive on Friday. Anything else I can do?",
    "ja": "お電話ありがとうございます。ご注文は今朝発送されました。金曜日に届く予定です。他にご用件はありますか。",
    "vi": "Cảm ơn bạn đã gọi. Đơn hàng đã được gửi sáng nay. Dự kiến sẽ đến vào thứ sáu. Bạn cần giúp gì thêm không?",
    "fr": "Merci de votre appel. Votre commande est partie ce matin. Elle arrivera vendredi. Autre chose ?",
    "ko": "전화해 주셔서 감사합니다. 주문하신 상품은 오늘 아침에 발송되었습니다. 금요일에 도착할 예정입니다.",
    "zh": "感谢您的来电。您的订单今天早上已经发货。预计星期五送达。还有什么可以帮您的吗？",
    "ru": "Спасибо за звонок. Ваш заказ отправлен сегодня утром. Он прибудет в пятницу. Чем ещё могу помочь?",
}
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


# -- processes -------------------------------------------------------------------------------------
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


# -- measurement -----------------------------------------------------------------------------------
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


# -- loads -----------------------------------------------------------------------------------------
def joined(names: list[str], minutes: float, pause_s: float = 1.0) -> bytes:
    """The clips, `pause_s` apart, repeated to `minutes`, as a 16 kHz WAV."""
    clips = [read_mono((DATA / name).read_bytes()) for name in names]
    pause = np.zeros(int(16_000 * pause_s), np.float32)
    pieces, total = [], 0
    while total < minutes * 60 * 16_000:
        for clip in clips:
            pieces += [clip, pause]
            total += clip.size + pause.size
    return encode(np.concatenate(pieces), "wav")


def asr_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    client = httpx.Client(base_url=service.url, timeout=900)
    files = {name: (DATA / name).read_bytes() for name in SHORT}
    english = sorted(f"asr/{p.name}" for p in (DATA / "asr").iterdir() if p.suffix in (".wav", ".flac"))
    long_file = joined(english, args.long_minutes)
    dialogue = joined(DIARIZATION, args.diarization_minutes, pause_s=0.5)
    pid = service.proc.pid

    def transcribe(name: str, data: bytes, path: str = "/transcribe") -> Callable[[], None]:
        return lambda: ok(client.post(path, files={"file": (Path(name).name, data)}, data={"language": "en"}))

    calls = [transcribe(name, data) for _ in range(args.rounds) for name, data in files.items()]
    return [
        phase(pid, f"4 concurrent /transcribe, short clips × {args.rounds}", lambda: concurrently(calls)),
        phase(
            pid,
            f"/transcribe {args.long_minutes:g} min file",
            lambda: concurrently([transcribe("long.wav", long_file)]),
        ),
        phase(
            pid,
            f"/transcribe-with-property {args.diarization_minutes:g} min file",
            lambda: concurrently([transcribe("dialogue.wav", dialogue, "/transcribe-with-property")]),
        ),
    ]


def voice_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    client = httpx.Client(base_url=service.url, timeout=600)
    reference, probe, other = ((DATA / SPEAKER.format(f"000{i}")).read_bytes() for i in range(3))
    spoof = [(p.name, p.read_bytes()) for p in sorted((DATA / "spoof").glob("*.wav"))]
    profile_clip = (DATA / "asr/en_LJ050-0131.wav").read_bytes()
    pid = service.proc.pid
    speaker: dict[str, str] = {}

    def register() -> int:
        form = {"name": "Reader", "description": "LibriSpeech 1998"}
        response = ok(client.post("/voice/register", files={"file": ("ref.flac", reference)}, data=form))
        speaker["id"] = response.json()["speaker_id"]
        return 1

    def verify() -> None:
        files = [("files", ("a.flac", probe)), ("files", ("b.flac", other))]
        ok(client.post(f"/voice/verify/{speaker['id']}", files=files))

    def anti_spoof() -> None:
        ok(client.post("/voice/anti-spoof", files=[("files", item) for item in spoof], data={"mode": "bank_flex"}))

    def profile() -> None:
        ok(client.post("/voice/profile", files={"file": ("lj.wav", profile_clip)}))

    n = 4 * args.rounds
    return [
        phase(pid, "register", register),
        phase(pid, f"4 concurrent verify (2 files) × {args.rounds}", lambda: concurrently([verify] * n)),
        phase(
            pid, f"4 concurrent anti-spoof ({len(spoof)} files) × {args.rounds}", lambda: concurrently([anti_spoof] * n)
        ),
        phase(pid, f"4 concurrent /voice/profile × {args.rounds}", lambda: concurrently([profile] * n)),
    ]


def tts_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    client = httpx.Client(base_url=service.url, timeout=600)

    def say(language: str) -> Callable[[], None]:
        body = {"input": PARAGRAPHS[language], "language": language, "response_format": "wav"}
        return lambda: ok(client.post("/v1/audio/speech", json=body))

    calls = [say(language) for _ in range(args.rounds) for language in PARAGRAPHS]
    name = f"4 concurrent /v1/audio/speech, {len(PARAGRAPHS)} languages × {args.rounds}"
    return [phase(service.proc.pid, name, lambda: concurrently(calls))]


def catalog_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    client = httpx.Client(base_url=service.url, timeout=60)
    speakers = ok(client.get("/api/speakers")).json()["speakers"]
    english = next(s["id"] for s in speakers if s["language"] == "en")

    def create_and_read() -> None:
        body = {"name": "bench", "user_id": "bench", "description": "memory", "langs": {"en": english}}
        created = ok(client.post("/api/collections", json=body)).json()
        ok(client.get(f"/api/collections/{created['id']}", params={"user_id": "bench"}))

    reads = [lambda: ok(client.get("/api/speakers"))] + [
        lambda lang=lang: ok(client.get("/api/speakers", params={"language": lang})) for lang in PARAGRAPHS
    ]
    reads.append(lambda: ok(client.get("/api/collections", params={"user_id": "bench"})))
    calls = (reads * 20 + [create_and_read] * 5) * args.rounds
    return [phase(service.proc.pid, f"4 concurrent list/create × {len(calls)}", lambda: concurrently(calls))]


def llm_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    client = httpx.Client(base_url=service.url, timeout=300)
    questions = ["Tell me about the sea.", "How do I bake bread?", "What is a good name for a cat?"]

    def ask(question: str) -> Callable[[], None]:
        body = {"model": "smollm2", "messages": [{"role": "user", "content": question}], "max_tokens": 256}
        return lambda: ok(client.post("/v1/chat/completions", json=body))

    calls = [ask(q) for _ in range(args.rounds) for q in questions]
    return [phase(service.proc.pid, "2 concurrent chat completions", lambda: concurrently(calls, workers=2))]


async def voicechat_session(url: str) -> int:
    speech = pcm("asr/sb_spk1_snt1.wav")
    async with websockets.connect(url, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "config", "language": "en"}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"type": "text_input", "text": "Hello, how are you today?"}))
        while not (isinstance(m := await ws.recv(), str) and json.loads(m)["type"] == "agent_end"):
            pass
        await asyncio.sleep(4)  # the reply plays out: speech now would interrupt it
        await turn(ws, speech)
    return 2


def voicechat_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    url = f"ws://127.0.0.1:{service.port}/ws/voice-chat"
    return [
        phase(service.proc.pid, "one session: a typed and a spoken turn", lambda: asyncio.run(voicechat_session(url)))
    ]


async def webrtc_session(base_url: str) -> int:
    speech = read_mono((DATA / "asr/sb_spk1_snt1.wav").read_bytes())
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        caller = CallerPeer()
        await caller.call(client, language="en")
        await asyncio.wait_for(caller.connected.wait(), 30)
        await asyncio.wait_for(caller.channel_open.wait(), 30)
        caller.channel.send("Hello over the data channel")
        await caller.agent_text_until_end()
        await asyncio.sleep(4)  # the reply plays out: speech now would interrupt it
        caller.mic.say(speech)
        await caller.next_event("transcription", within_s=30)
        await caller.agent_text_until_end()
        await asyncio.sleep(2)  # the reply's audio plays out on the track
        await caller.close()
    return 2


def webrtc_load(service: Service, args: argparse.Namespace) -> list[Phase]:
    return [
        phase(service.proc.pid, "one call: a typed and a spoken turn", lambda: asyncio.run(webrtc_session(service.url)))
    ]


LOADS = {
    "asr": asr_load,
    "voice": voice_load,
    "tts": tts_load,
    "catalog": catalog_load,
    "llm": llm_load,
    "voicechat": voicechat_load,
    "webrtc": webrtc_load,
}


# -- main ------------------------------------------------------------------------------------------
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
