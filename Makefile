# The two set-up commands of the README:
#   make run    install into .venv, then run 5 cycles of the loop on the embedded default (SQLite, digits32)
#   make test   install into .venv (with test extras, the PostgreSQL server and Chromium), then run the whole test suite
# Both are idempotent; a second run skips the installation while pyproject.toml is unchanged.

PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install run test postgres-server chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: install
	$(VENV)/bin/nngpt run --config configs/default.yaml

postgres-server:
	@bash scripts/ensure_postgres_server.sh

chromium:
	@bash scripts/ensure_chromium.sh

test: install postgres-server chromium
	$(VENV)/bin/python -m pytest
