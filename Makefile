# OpenMDMR: a new user's two commands are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-sqlite test-postgres lint format bench clean

$(STAMP): pyproject.toml setup.py meters/reads/interfaces/_cmepscan.c meters/reads/_cruns.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make run: set up, load demo data on the embedded default (SQLite, eager Celery), serve.
run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

## make test: the whole suite on SQLite, then the storage/task suite on a throwaway PostgreSQL.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m portal.testing.pgserver -- $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

test-sqlite: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	$(BIN)/python -m portal.testing.pgserver -- $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles var/*.sqlite3*
