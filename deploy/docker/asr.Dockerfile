# voicefleet asr: Whisper transcription, diarization, streaming with end-of-turn detection.
# Build from the repository root:
#   docker build -f deploy/docker/asr.Dockerfile -t voicefleet/asr .                    CPU (default target)
#   docker build -f deploy/docker/asr.Dockerfile --target gpu -t voicefleet/asr:gpu .   CUDA 12.8, cuDNN 9
# The embedded Whisper base ships inside the installed wheels and is assembled into MODEL_CACHE_DIR (a
# volume) on first start; the turn-completion model is copied in from the pipecat-ai wheel; the GPU image adds pyannote.audio pipelines (DIARIZATION_MODEL, HF_TOKEN).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.9.7

FROM ${UV_IMAGE} AS uv

# --- The turn-completion model (smart-turn v3.2, BSD-2-Clause), taken from the pipecat-ai wheel -------
FROM ${PYTHON_IMAGE} AS turn-model
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY tools/turn_model.py /tmp/turn_model.py
RUN python /tmp/turn_model.py --output /turn/smart-turn-v3.2-cpu.onnx

# --- CPU: CPU torch first, so the extra does not pull the CUDA build ---------------------------------
FROM ${PYTHON_IMAGE} AS build-cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && /opt/venv/bin/pip install ".[asr]"

# --- GPU: a standalone CPython (uv) on the CUDA base; CUDA torch 2.11 (torchaudio for pyannote), and
# onnxruntime-gpu in place of onnxruntime (Silero VAD) ---------------------------------------------------
FROM ${CUDA_IMAGE} AS build-gpu
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python UV_NO_CACHE=1 UV_LINK_MODE=copy
WORKDIR /src
RUN uv python install 3.11.11 && uv venv --python 3.11.11 /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
RUN uv pip install --python /opt/venv/bin/python torch==2.11.0 torchaudio==2.11.0 \
      --index-url https://download.pytorch.org/whl/cu128 \
 && uv pip install --python /opt/venv/bin/python ".[asr,pyannote]" \
 && uv pip uninstall --python /opt/venv/bin/python onnxruntime \
 && uv pip install --python /opt/venv/bin/python onnxruntime-gpu==1.31.1

FROM ${CUDA_IMAGE} AS gpu
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build-gpu /opt/python /opt/python
COPY --from=build-gpu /opt/venv /opt/venv
COPY --from=turn-model /turn /opt/turn
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models ASR_DEVICE=cuda \
    STREAM_TURN_MODEL=/opt/turn/smart-turn-v3.2-cpu.onnx
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "services.asr.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--ws-max-size", "1048576"]

FROM ${PYTHON_IMAGE} AS cpu
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build-cpu /opt/venv /opt/venv
COPY --from=turn-model /turn /opt/turn
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models \
    STREAM_TURN_MODEL=/opt/turn/smart-turn-v3.2-cpu.onnx
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "services.asr.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--ws-max-size", "1048576"]
