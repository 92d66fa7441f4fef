# The README's quick start: `make run` (demo server on SQLite) and `make test` (lint, types, tests on SQLite and PostgreSQL).
# `make test` also installs the Debian packages its tests need and starts PostgreSQL: scripts/test-prerequisites.sh.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The tests also need the `dtls` extra (DTLSSocket, built from source: autoconf automake libtool); `make run` does
# not, and logs that coaps is off when it is missing.
DTLS_STAMP := $(VENV)/.installed-dtls-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 3
RUN_ARGS ?=

.PHONY: run test prerequisites lint typecheck pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DTLS_STAMP): $(STAMP)
	scripts/test-prerequisites.sh
	$(BIN)/pip install --quiet -e '.[dev,dtls]'
	touch $(DTLS_STAMP)

run: $(STAMP)
	$(BIN)/fota serve --demo --host $(HOST) --port $(PORT) $(RUN_ARGS)

prerequisites:
	scripts/test-prerequisites.sh

# lint-imports checks the layering contracts in pyproject.toml (docs/adr/0020-composition-root.md).
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

# On PYTEST_WORKERS workers, then the tests marked `serial` alone: scripts/pytest-in-phases.sh.
pytest: prerequisites $(DTLS_STAMP)
	PYTEST=$(BIN)/pytest PYTEST_WORKERS=$(PYTEST_WORKERS) scripts/pytest-in-phases.sh $(PYTEST_ARGS)

test: prerequisites lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache fota.db fota.db-wal fota.db-shm

# The fault and abuse suite at soak scale (docs/reliability.md): schemathesis with thousands of generated requests on
# both backends, the rest of tests/faults, the 500-device SIGKILL test, the 100-device rollout test and the device-local
# windows test on both; figures go to $(SOAK_FIGURES).
SOAK_EXAMPLES ?= 60
SOAK_FIGURES ?= soak-figures.jsonl
.PHONY: soak
soak: prerequisites $(DTLS_STAMP)
	FOTA_FAULT_FIGURES=$(SOAK_FIGURES) FOTA_SCHEMATHESIS_EXAMPLES=$(SOAK_EXAMPLES) \
	FOTA_SCHEMATHESIS_BACKENDS=sqlite,postgresql FOTA_TEST_BACKENDS=sqlite,postgresql \
	FOTA_CRASH_BACKENDS=sqlite,postgresql FOTA_ROLLOUT_BACKENDS=sqlite,postgresql FOTA_WINDOWS_BACKENDS=sqlite,postgresql \
	$(BIN)/pytest tests/faults tests/lwm2m/test_crash.py tests/lwm2m/test_rollout.py tests/lwm2m/test_device_windows.py -q $(PYTEST_ARGS)
