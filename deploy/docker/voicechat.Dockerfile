# voicefleet voicechat: the ASR -> LLM -> TTS orchestrator over WebSocket. No models.
# Build from the repository root: docker build -f deploy/docker/voicechat.Dockerfile -t voicefleet/voicechat .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/venv/bin/pip install ".[voicechat]"

FROM ${PYTHON_IMAGE} AS cpu
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models
USER 10001:10001
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "services.voicechat.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--ws-max-size", "1048576"]
