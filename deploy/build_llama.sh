#!/usr/bin/env bash
# Build and install llama-cpp-python (the default LLM's runtime) as a portable binary.
#
#   deploy/build_llama.sh PIP [CACHE_DIR]
#
# llama-cpp-python ships only a source archive, and its default build compiles llama.cpp for the build
# host's CPU (-march=native). On a Xeon with AMX that library contains AMX tile instructions, which
# trap (SIGILL) on hosts of the same kind whose hypervisor does not enable them. This build targets
# x86-64-v3 instead (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX), which every x86-64 server of the last
# decade runs. deploy/check_portable.py verifies the result; bench/llm.py measures it against a native build.
#
# The wheel is cached under CACHE_DIR (default ~/.cache/voicefleet/wheels) in a folder named after the
# version and the flags, so a later install with the same flags skips the ~5 minute compile. pip's own
# wheel cache is bypassed: it is keyed by the source archive alone, so it would hand back a wheel built
# with other flags (a native one, for instance).
set -euo pipefail

PIP=${1:?usage: deploy/build_llama.sh PIP [CACHE_DIR]}
CACHE_DIR=${2:-${HOME}/.cache/voicefleet/wheels}
VERSION=0.3.36
FLAGS_TAG=x86-64-v3
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
-DLLAVA_BUILD=OFF"
HERE=$(cd "$(dirname "$0")" && pwd)
WHEELS="${CACHE_DIR}/llama-cpp-python-${VERSION}-${FLAGS_TAG}"

if [ "$(uname -m)" != x86_64 ]; then
  # Other architectures: llama.cpp's own defaults (no x86 flags apply).
  unset CMAKE_ARGS
  WHEELS="${CACHE_DIR}/llama-cpp-python-${VERSION}-$(uname -m)"
fi

wheel=$(find "${WHEELS}" -name "llama_cpp_python-${VERSION}-*.whl" 2>/dev/null | head -n 1 || true)
if [ -z "${wheel}" ]; then
  for tool in cmake c++; do
    command -v "${tool}" >/dev/null || { echo "llama.cpp is compiled at install time and needs ${tool}: apt-get install cmake g++" >&2; exit 1; }
  done
  echo "==> Building llama.cpp ${VERSION} for ${FLAGS_TAG} (portable, no native CPU flags)."
  echo "    This compiles C++ once and takes about 5 minutes on 2 cores; the wheel is then cached in ${WHEELS}."
  mkdir -p "${WHEELS}"
  start=$(date +%s)
  "${PIP}" wheel --no-deps --no-cache-dir --no-binary llama-cpp-python -w "${WHEELS}" "llama-cpp-python==${VERSION}"
  echo "    llama.cpp built in $(( $(date +%s) - start )) s."
  wheel=$(find "${WHEELS}" -name "llama_cpp_python-${VERSION}-*.whl" | head -n 1)
else
  echo "==> llama.cpp ${VERSION} (${FLAGS_TAG}): using the cached build ${wheel}"
fi
"${PIP}" install "${wheel}[server]"
"$(dirname "${PIP}")/python" "${HERE}/check_portable.py"
