# voicefleet: `make run` brings the fleet up (installing on first call); `make test` runs the suite.
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3
export PATH := $(BIN):$(PATH)

.PHONY: install run test test-fast bench lint clean antispoof-model env-example

# AASIST anti-spoofing: the checkpoint is data the user obtains (docs/VOICE.md); `make antispoof-model`
# exports it to ONNX, and `make run` serves that file when it exists.
AASIST_CHECKPOINT ?= ../shared/models/aasist/AASIST.pth
ANTISPOOF_ONNX := models/aasist.onnx
ifneq ($(wildcard $(ANTISPOOF_ONNX)),)
export ANTISPOOF_MODEL ?= $(CURDIR)/$(ANTISPOOF_ONNX)
endif

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel "setuptools<81"
	# CPU torch first: anything that asks for torch later is then satisfied without CUDA wheels.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[all]"
	# Kokoro's Japanese readings; their declared dependencies would pull dictionaries it does not use.
	$(BIN)/pip install --no-deps pyopenjtalk-plus sudachipy
	# voice2gender (SSAP gender) declares xgboost>=3.4.1, which needs Python 3.12; its model loads on xgboost 3.x.
	$(BIN)/pip install --no-deps voice2gender==0.1.1
	$(BIN)/pip install "xgboost-cpu>=3,<4"
	touch $(STAMP)

install: $(STAMP)

$(ANTISPOOF_ONNX): $(AASIST_CHECKPOINT) | $(STAMP)
	$(BIN)/python -m services.voice.antispoof.export --checkpoint $(AASIST_CHECKPOINT) --output $@

## Export the AASIST checkpoint (AASIST_CHECKPOINT) to ONNX for the voice service.
antispoof-model: $(ANTISPOOF_ONNX)

## Start every service and the Traefik gateway (:8124, :8125, :8005). Ctrl-C stops them all.
run: install
	$(BIN)/honcho start -f Procfile

## The whole suite: lint, unit tests, then the fleet behind Traefik with the real models.
test: install lint $(ANTISPOOF_ONNX)
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check services tests bench deploy
	$(BIN)/ruff format --check services tests bench deploy

## Unit tests only (no fleet).
test-fast: install
	$(BIN)/pytest -q -m "not fleet"

bench: install $(ANTISPOOF_ONNX)
	$(BIN)/python bench/asr_file.py
	$(BIN)/python bench/stream_latency.py
	$(BIN)/python bench/diarization.py
	$(BIN)/python bench/verify_eer.py
	$(BIN)/python bench/antispoof_eer.py
	$(BIN)/python bench/tts.py
	$(BIN)/python bench/voicechat_latency.py
	$(BIN)/python bench/webrtc.py
	$(BIN)/python bench/ssap_gender.py
	$(BIN)/python bench/ssap.py
	$(BIN)/python bench/service_memory.py
	$(BIN)/python bench/limits.py

# deploy/.env.example and the Helm chart's values.schema.json document every setting; regenerate both after
# changing a settings class (tests/test_deploy.py and tests/test_helm_chart.py fail until then).
env-example: install
	$(BIN)/python deploy/env_example.py > deploy/.env.example
	$(BIN)/python deploy/k8s/values_schema.py

clean:
	rm -rf $(VENV) .pytest_cache $(ANTISPOOF_ONNX)
