# Serialtrail — `make help` lists the targets. `make run` and `make test` are the two you need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
PYTHON ?= python3
# uv comes from PyPI into .tools/ unless it is already on PATH at the pinned version.
UV := $(shell command -v uv >/dev/null 2>&1 && uv --version | grep -q '$(UV_VERSION)' && echo uv || echo .tools/bin/uv)
RUN := $(UV) run --locked --no-sync
PYTEST_WORKERS ?= 2
# Each service's and simulator's src/ and tests/ (helpers shared by its tests and the integration tests).
export MYPYPATH := $(subst $(eval) ,:,$(wildcard services/*/src services/*/tests simulators/*/src simulators/*/tests))

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv) ## Install uv (if missing) and the locked environment
	$(UV) sync --locked --all-packages --quiet

.PHONY: run
# Both runs bring the EU hub simulator on 127.0.0.1:8470 for uploads to go to (SERIALTRAIL_FMD_HUB_SIMULATOR=false
# and SERIALTRAIL_FMD_HUB_HUB_URL for another hub).
run: install ## Start Serialtrail embedded on 127.0.0.1:8000 (data in ./.serialtrail/)
	SERIALTRAIL_FMD_HUB_SIMULATOR=$${SERIALTRAIL_FMD_HUB_SIMULATOR:-true} \
	SERIALTRAIL_FMD_HUB_SIMULATOR_DATA=$${SERIALTRAIL_FMD_HUB_SIMULATOR_DATA:-$${SERIALTRAIL_DATA_DIR:-.serialtrail}/eu-hub-simulator.sqlite} \
	$(RUN) serialtrail run

.PHONY: run-distributed
run-distributed: install ## Distributed mode on this machine: PostgreSQL, a Kafka-protocol broker, each service its own process, one gateway on :8000
	SERIALTRAIL_FMD_HUB_SIMULATOR=$${SERIALTRAIL_FMD_HUB_SIMULATOR:-true} \
	SERIALTRAIL_FMD_HUB_SIMULATOR_DATA=$${SERIALTRAIL_FMD_HUB_SIMULATOR_DATA:-$${SERIALTRAIL_DATA_DIR:-.serialtrail}/distributed/eu-hub-simulator.sqlite} \
	$(RUN) serialtrail run --distributed

.PHONY: test
test: install k8s-check ## Run the whole test suite against real PostgreSQL (and the Kubernetes check)
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadgroup -q $(PYTEST_ARGS)

.PHONY: k8s-check
k8s-check: install ## Render every deploy/k8s overlay with kustomize and validate it offline
	$(RUN) python scripts/k8s_check.py

.PHONY: compose-check
compose-check: ## `docker compose config` where a Docker engine answers (make test checks the file without one)
	@if docker info >/dev/null 2>&1; then docker compose config --quiet && echo "docker-compose.yml: valid"; \
	else echo "no Docker engine answers: skipped (tests/conventions/test_compose.py checks the file)"; fi

.PHONY: lint
lint: install ## ruff + mypy --strict (tests included)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy contracts libs services simulators apps tests scripts bench

.PHONY: format
format: install ## Apply ruff formatting and import sorting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: bench
bench: install ## Benchmarks: one JSON line per figure (never part of make test)
	$(RUN) python -m bench

.PHONY: schemas
schemas: install ## Regenerate the contract JSON Schema snapshots
	$(RUN) python scripts/export_schemas.py

.PHONY: topics
topics: install ## Create the Kafka topics (KAFKA_BOOTSTRAP_SERVERS=host:port; distributed mode only)
	$(RUN) serialtrail topics create
