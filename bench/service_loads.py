"""The representative load per service for bench/service_memory.py (see its docstring), with real speech
from ../shared/data: each returns the phases it measured."""

import argparse
import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import websockets

from bench.asr_file import SHORT
from bench.service_process import Phase, Service, concurrently, ok, phase
from bench.voicechat_latency import pcm, turn
from tests.audio_files import encode, read_mono
from tests.webrtc_peer import CallerPeer

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOICEFLEET_TEST_DATA", REPO.parent / "shared" / "data"))
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
