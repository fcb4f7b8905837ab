# voicefleet tts: Piper (en), Kokoro (ja) and espeak-ng (every language) on onnxruntime; F5-TTS voice
# cloning on GPU. Build from the repository root:
#   docker build -f deploy/docker/tts.Dockerfile -t voicefleet/tts .                    CPU (default target)
#   docker build -f deploy/docker/tts.Dockerfile --target gpu -t voicefleet/tts:gpu .   CUDA 12.8, cuDNN 9
# The voices ship inside the installed wheels; F5TTS_MODEL names a checkpoint on the models volume.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9.7

FROM ${UV_IMAGE} AS uv

# --- CPU: no torch; Kokoro's Japanese reading frontend installed without its declared dependencies ----
FROM ${PYTHON_IMAGE} AS build-cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/venv/bin/pip install ".[tts]" \
 && /opt/venv/bin/pip install --no-deps pyopenjtalk-plus==0.4.1.post10 sudachipy==0.7.0

# --- GPU: a standalone CPython (uv) on the CUDA base; CUDA torch 2.11 for F5-TTS, onnxruntime-gpu ------
FROM ${CUDA_IMAGE} AS build-gpu
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python UV_NO_CACHE=1 UV_LINK_MODE=copy
WORKDIR /src
RUN uv python install 3.11.11 && uv venv --python 3.11.11 /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
RUN uv pip install --python /opt/venv/bin/python torch==2.11.0 torchaudio==2.11.0 \
      --index-url https://download.pytorch.org/whl/cu128 \
 && uv pip install --python /opt/venv/bin/python ".[tts,f5tts]" \
 && uv pip install --python /opt/venv/bin/python --no-deps pyopenjtalk-plus==0.4.1.post10 sudachipy==0.7.0 \
 && uv pip uninstall --python /opt/venv/bin/python onnxruntime \
 && uv pip install --python /opt/venv/bin/python onnxruntime-gpu==1.31.1

FROM ${CUDA_IMAGE} AS gpu
# espeak-ng speaks every language (and phonemizes for Piper).
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build-gpu /opt/python /opt/python
COPY --from=build-gpu /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "services.tts.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--ws-max-size", "1048576"]

FROM ${PYTHON_IMAGE} AS cpu
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build-cpu /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "services.tts.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--ws-max-size", "1048576"]
